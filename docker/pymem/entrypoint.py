"""Container entrypoint: run `pymem migrate` as the owner when asked, then exec `pymem ARGS`
connected as the install's service role, which also creates tenants and their API keys:

    docker compose -f docker/compose.yaml run --rm migrate tenant create acme
    docker compose -f docker/compose.yaml run --rm migrate tenant key create acme --name agent

PYMEM_OWNER_DSN   the role that owns the schema: migrations, finding the install id, and
                  `pymem serve`'s index rebuilds (it reads PYMEM_OWNER_DSN itself)
PYMEM_MIGRATE=1   migrate before starting any other command (`migrate` as the command migrates
                  and exits: the compose file's `migrate` service)
PYMEM_SERVICE_PASSWORD  the service role's password, if the server requires one
"""

import os
import sys

from psycopg.conninfo import make_conninfo

from pymem.migrate import service_dsn

owner = os.environ["PYMEM_OWNER_DSN"]
if sys.argv[1:2] == ["migrate"]:
    # `pymem migrate` itself, as the owner (--embed-model and --embed-dim pass through).
    os.execvp("pymem", ["pymem", "--dsn", owner, *sys.argv[1:]])
if os.environ.get("PYMEM_MIGRATE") == "1":
    from pymem.migrate import migrate

    print(migrate(owner), flush=True)
extra = {"password": os.environ["PYMEM_SERVICE_PASSWORD"]} if os.environ.get("PYMEM_SERVICE_PASSWORD") else {}
os.environ["PYMEM_DSN"] = make_conninfo(service_dsn(owner), **extra)
os.execvp("pymem", ["pymem", *sys.argv[1:]])
