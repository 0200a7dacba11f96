"""`make demo`: a short walkthrough on the embedded server, printing what it does."""

from __future__ import annotations

import pymem

TENANTS = {
    "demo-acme": {
        "alice": [
            ("preference", "Alice prefers dark mode in every editor she uses"),
            ("fact", "Alice is allergic to dogs"),
            ("fact", "Alice works on the billing service in Go"),
            ("event", "Alice has a dentist appointment on 3 December"),
        ],
    },
    "demo-globex": {
        "alice": [
            ("fact", "Globex's Alice is a vegetarian who loves hot dogs made of tofu"),
        ],
    },
}


def step(text: str) -> None:
    print(f"\n== {text}")


def main() -> None:
    step("Starting the embedded PostgreSQL and migrating it (pymem.connect())")
    client = pymem.connect()
    caps = client.capabilities()
    print(f"PostgreSQL {caps['server_version']}: vector={caps['vector']} age={caps['age']} "
          f"bm25={caps['bm25']} pg_cron={caps['pg_cron']}")

    step("Creating two tenants (each gets a role, a partition with its own indexes, and a graph)")
    existing = {t["tenant_id"] for t in client.list_tenants()}
    for tenant_id in TENANTS:
        if tenant_id in existing:
            client.drop_tenant(tenant_id)  # a re-run starts clean
        row = client.create_tenant(tenant_id)
        print(f"{tenant_id}: role {row['role_name']}, graph {row['graph_name']}")

    step("Remembering memories (embedded locally with all-MiniLM-L6-v2)")
    for tenant_id, users in TENANTS.items():
        tenant = client.tenant(tenant_id)
        for user_id, memories in users.items():
            for kind, content in memories:
                tenant.remember(user_id, content, kind=kind)
                print(f"{tenant_id}/{user_id} [{kind}] {content}")

    query = "what should I know before bringing my dog to Alice's place?"
    step(f"Retrieving for tenant demo-acme, user alice: {query!r}")
    print("score = 0.6*vector + 0.25*lexical + 0.15*recency + 0.2*graph (the default weights)")
    for m in client.tenant("demo-acme").retrieve("alice", query, top_k=3):
        print(f"{m.score:.3f} = 0.6*{m.vector_score:.3f} + 0.25*{m.lexical_score:.3f}"
              f" + 0.15*{m.recency_score:.3f} + 0.2*{m.graph_score:.3f}  [{m.kind}] {m.content}")

    step("The same user id in tenant demo-globex sees only demo-globex's memories")
    acme_ids = {m.id for m in client.tenant("demo-acme").retrieve("alice", "dogs", top_k=10)}
    globex = client.tenant("demo-globex").retrieve("alice", "dogs", top_k=10)
    for m in globex:
        print(f"{m.score:.3f}  tenant={m.tenant_id}  {m.content}")
    leaked = [m for m in globex if m.id in acme_ids or m.tenant_id != "demo-globex"]
    print(f"memories of demo-acme visible to demo-globex: {len(leaked)}")
    if leaked:
        raise SystemExit("isolation failure")

    step("Done. Try: .venv/bin/pymem search --tenant demo-acme --user alice 'theme'")
    client.close()


if __name__ == "__main__":
    main()
