"""How the halves written out by hand (``heldout3``, ``heldout4``, ``heldout5``) become scenarios:
one walk, shared so that each half's module holds only its own tables.

Deterministic (no random stream): each family's values and templates are taken in turn.
Placeholders ``{old}``, ``{new}``, ``{other}`` take a value's surface text (its first alias)
and the sentence's first letter is capitalised; the scenarios have the fields and checks of
:mod:`pymem.bench.updates_corpus`.
"""

from __future__ import annotations

from .updates_corpus import check, terms

# Sizes per family (the same in every half written out by hand).
UPDATES_PER_FAMILY = 10
DISTRACTORS_PER_TEMPLATE = 2
ADDITIONS_PER_FAMILY = 7
CESSATIONS_PER_FAMILY = 6


def _fill(template: str, **values: tuple[str, ...]) -> str:
    text = template.format(**{k: v[0] for k, v in values.items()})
    return text[0].upper() + text[1:]


def _updates(split: str, update_families: dict, update_pairs: list) -> list[dict]:
    out = []
    for family, t in update_families.items():
        vals = t["values"]
        for i in range(UPDATES_PER_FAMILY):
            old, new = vals[i % len(vals)], vals[(i + 1 + i // len(vals)) % len(vals)]
            if new == old:
                new = vals[(i + 2) % len(vals)]
            out.append({"id": f"update-{family}-{split}-{i:02d}", "split": split, "type": "update", "family": family,
                        "original": _fill(t["original"][i % len(t["original"])], old=old),
                        "second": _fill(t["update"][(i * 3 + 1) % len(t["update"])], old=old, new=new),
                        "question": t["question"][i % len(t["question"])],
                        "current_terms": terms(new), "stale_terms": terms(old)})
    counts: dict[str, int] = {}
    for family, original, second, question, stale, current in update_pairs:
        k = counts[family] = counts.get(family, -1) + 1
        out.append({"id": f"update-{family}-{split}-{k:02d}", "split": split, "type": "update", "family": family,
                    "original": original, "second": second, "question": question,
                    "current_terms": list(current), "stale_terms": list(stale)})
    return out


def _distractors(split: str, update_families: dict, additive_families: dict, distractor_pairs: list) -> list[dict]:
    out = []
    for family, t in update_families.items():
        vals = t["values"]
        for j, (kind, template) in enumerate(t["distractor"]):
            for k in range(DISTRACTORS_PER_TEMPLATE):
                i = j * DISTRACTORS_PER_TEMPLATE + k
                old, other = vals[i % len(vals)], vals[(i + 2 + k) % len(vals)]
                out.append({"id": f"distractor-{kind}-{family}-{split}-{i:02d}", "split": split, "type": "distractor",
                            "family": family, "kind": kind,
                            "original": _fill(t["original"][i % len(t["original"])], old=old),
                            "second": _fill(template, other=other),
                            "question": t["question"][i % len(t["question"])],
                            "protected_terms": terms(old), "expected_terms": terms(old)})
    for family, t in additive_families.items():
        vals = t["values"]
        for i in range(ADDITIONS_PER_FAMILY):
            old, other = vals[i % len(vals)], vals[(i + 3) % len(vals)]
            out.append({"id": f"distractor-addition-{family}-{split}-{i:02d}", "split": split, "type": "distractor",
                        "family": family, "kind": "addition",
                        "original": _fill(t["original"][i % len(t["original"])], old=old),
                        "second": _fill(t["addition"][(i + 1) % len(t["addition"])], other=other),
                        "question": t["question"], "protected_terms": terms(old), "expected_terms": terms(old)})
    for i, (kind, family, original, second, question, protected, expected) in enumerate(distractor_pairs):
        out.append({"id": f"distractor-{kind}-{family}-{split}-w{i:02d}", "split": split, "type": "distractor",
                    "family": family, "kind": kind, "original": original, "second": second, "question": question,
                    "protected_terms": list(protected), "expected_terms": list(expected)})
    return out


def _cessations(split: str, cessation_families: dict) -> list[dict]:
    out = []
    for family, t in cessation_families.items():
        vals = t["values"]
        for i in range(CESSATIONS_PER_FAMILY):
            old = vals[i % len(vals)]
            out.append({"id": f"cessation-{family}-{split}-{i:02d}", "split": split, "type": "cessation",
                        "family": family,
                        "original": _fill(t["original"][i % len(t["original"])], old=old),
                        "second": _fill(t["cessation"][(i * 2 + 1) % len(t["cessation"])], old=old),
                        "question": t["question"].format(old=old[0]), "ceased_terms": terms(old)})
    return out


def scenarios(split: str, *, update_families: dict, update_pairs: list, additive_families: dict,
              distractor_pairs: list, cessation_families: dict) -> list[dict]:
    """Every scenario of one half written out by hand: updates, then distractors, then
    cessations, each checked; ids unique."""
    out = (_updates(split, update_families, update_pairs)
           + _distractors(split, update_families, additive_families, distractor_pairs)
           + _cessations(split, cessation_families))
    ids = [s["id"] for s in out]
    if len(ids) != len(set(ids)):
        raise AssertionError(f"{split} scenario ids must be unique")
    for s in out:
        check(s)
    return out
