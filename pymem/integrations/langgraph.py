"""A LangGraph ``BaseStore`` over one pymem tenant: ``graph.compile(store=PymemStore(...))``.

How namespaces map (the store is bound to one tenant when it is built; no namespace can
name another):

- ``PymemStore(tenant, user_id="alice")``: every namespace lives in user alice's memory.
- ``PymemStore(tenant)``: the first element of every namespace is the user id, the rest is
  a path within that user: ``("alice", "memories")`` is alice's ``("memories",)``. A
  namespace without a user (``()``) is refused with ``InvalidNamespaceError``, and so is
  ``list_namespaces`` without a prefix naming the user (pymem lists per user).
- A path is stored as one string, one-to-one (``_path``): ``("a/b",)`` and ``("a", "b")``
  are two namespaces. A memory whose ``langgraph`` metadata is not a whole item (another
  writer of the tenant may set metadata) is skipped, never a KeyError.

Each item is one memory of kind ``fact``: its content is the value's ``content``,
``text`` or ``memory`` field when it has one (else the value as JSON; ``index=[paths]``
picks the fields instead), so ``search(query=...)`` ranks items with pymem's hybrid
retrieval. ``put`` on an existing key stores a new version that supersedes the old one
(``pymem`` keeps the history); ``put(..., None)``/``delete`` forgets it. ``filter`` takes
exact matches and ``$eq $ne $gt $gte $lt $lte``; exact matches run in the database.
``index=False`` keeps the item out of search: only its key is text. TTLs are not supported
(``supports_ttl`` is False; a put with a TTL raises).

Built on a ``TenantClient`` its calls block (``abatch`` runs them in a thread); on an
``AsyncTenantClient`` (``pymem.connect_async``) ``abatch`` awaits them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import unicodedata
from typing import Any, Iterable

from ..client import AsyncTenantClient, StoredMemory, TenantClient

try:
    from langgraph.store.base import (BaseStore, GetOp, InvalidNamespaceError, Item, ListNamespacesOp, MatchCondition,
                                      PutOp, SearchItem, SearchOp)
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("PymemStore needs the langgraph extra: pip install 'pymem-pg[langgraph]'") from exc

_SCAN = 1000  # items read per page when a question needs every item of a user


def _path(namespace: tuple[str, ...]) -> str:
    """A namespace as one string, one-to-one: labels joined by '/', with '%' and '/' inside a
    label escaped (%25, %2F), so ("a/b",) and ("a", "b") never meet. Labels are non-empty, so
    () and ("",) cannot meet either; a label with neither character reads as it always did."""
    return "/".join(label.replace("%", "%25").replace("/", "%2F") for label in namespace)


def _slot_part(prefix: str, text: str) -> str:
    """A supersession slot's subject or attribute: ``prefix:text``, or, where that would not
    fit pymem's 256 characters or holds control characters, a digest of it under
    ``prefix#sha256:`` (never cut short: two long paths must not share a slot)."""
    plain = f"{prefix}:{text}"
    if len(plain) <= 256 and not any(unicodedata.category(c) == "Cc" for c in plain):
        return plain
    return f"{prefix}#sha256:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _prefixes(namespace: tuple[str, ...]) -> list[str]:
    return [_path(namespace[:i]) for i in range(1, len(namespace) + 1)] or [""]


def _field(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(value: dict, conditions: dict[str, Any]) -> bool:
    for path, wanted in conditions.items():
        actual = _field(value, path)
        if isinstance(wanted, dict) and wanted and all(k.startswith("$") for k in wanted):
            for operator, operand in wanted.items():
                try:
                    ok = {"$eq": lambda: actual == operand, "$ne": lambda: actual != operand,
                          "$gt": lambda: actual > operand, "$gte": lambda: actual >= operand,
                          "$lt": lambda: actual < operand, "$lte": lambda: actual <= operand}[operator]()
                except KeyError:
                    raise ValueError(f"unsupported filter operator {operator}") from None
                except TypeError:
                    ok = False
                if not ok:
                    return False
        elif actual != wanted:
            return False
    return True


def _saved(memory) -> dict | None:
    """The item a memory holds (its metadata's ``langgraph`` object), or None when that is not
    a whole item: any writer of the tenant (SQL, HTTP, another client) may give a memory a
    ``langgraph`` object, and one without its key, namespace, value or time is no item of
    this store, skipped rather than failing the whole search."""
    saved = memory.metadata.get("langgraph") if isinstance(memory.metadata, dict) else None
    if not (isinstance(saved, dict) and isinstance(saved.get("key"), str) and isinstance(saved.get("value"), dict)
            and isinstance(saved.get("namespace"), list) and all(isinstance(x, str) for x in saved["namespace"])
            and isinstance(saved.get("created_at"), str)):
        return None
    try:
        dt.datetime.fromisoformat(saved["created_at"])
    except ValueError:
        return None
    return saved


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(path) > len(namespace):
        return False
    part = namespace[:len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path):]
    return all(p == "*" or p == n for p, n in zip(path, part))


class PymemStore(BaseStore):
    """LangGraph's store interface over one pymem tenant (see the module doc for the mapping)."""

    supports_ttl = False

    def __init__(self, tenant: TenantClient | AsyncTenantClient, *, user_id: str | None = None):
        self.tenant = tenant
        self.user_id = user_id

    # -- the two entry points LangGraph calls -----------------------------------------

    def batch(self, ops: Iterable) -> list:
        if isinstance(self.tenant, AsyncTenantClient):
            raise TypeError("this store wraps an async client: use abatch (or the a* methods)")
        return [self._run(self._op(op)) for op in ops]

    async def abatch(self, ops: Iterable) -> list:
        if not isinstance(self.tenant, AsyncTenantClient):
            return await asyncio.to_thread(self.batch, list(ops))
        return [await self._arun(self._op(op)) for op in ops]

    def _run(self, gen):
        answer = None
        while True:
            try:
                method, args, kwargs = gen.send(answer)
            except StopIteration as stop:
                return stop.value
            answer = getattr(self.tenant, method)(*args, **kwargs)

    async def _arun(self, gen):
        answer = None
        while True:
            try:
                method, args, kwargs = gen.send(answer)
            except StopIteration as stop:
                return stop.value
            answer = await getattr(self.tenant, method)(*args, **kwargs)

    # -- operations: generators that yield (tenant method, args, kwargs) ----------------

    def _op(self, op):
        if isinstance(op, GetOp):
            return self._get(op)
        if isinstance(op, PutOp):
            return self._put(op)
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise ValueError(f"unknown store operation {type(op).__name__}")

    def _split(self, namespace: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """(user id, path within the user) of a namespace."""
        namespace = tuple(namespace)
        if any(not isinstance(label, str) or not label or "." in label for label in namespace):
            raise InvalidNamespaceError(f"namespace labels are non-empty strings without '.': {namespace!r}")
        if self.user_id is not None:
            return self.user_id, namespace
        if not namespace:
            raise InvalidNamespaceError("the first namespace element is the user id; this store is not bound to "
                                        "one user (PymemStore(tenant, user_id=...) binds it)")
        return namespace[0], namespace[1:]

    def _namespace(self, user: str, path: list[str]) -> tuple[str, ...]:
        return tuple(path) if self.user_id is not None else (user, *path)

    def _current(self, user: str, path: tuple[str, ...], key: str):
        """The memory holding the item now (the newest whole one), or None."""
        page = yield ("list", (user,), {"filters": {"metadata": {"langgraph": {"path": _path(path), "key": key}}},
                                        "limit": 10})
        return next((m for m in page if _saved(m) is not None), None)

    def _item(self, memory: StoredMemory, cls=Item, **extra) -> Item:
        saved = _saved(memory)
        return cls(namespace=self._namespace(memory.user_id, saved["namespace"]), key=saved["key"],
                   value=saved["value"], created_at=dt.datetime.fromisoformat(saved["created_at"]),
                   updated_at=memory.created_at, **extra)

    def _get(self, op: GetOp):
        user, path = self._split(op.namespace)
        memory = yield from self._current(user, path, op.key)
        return None if memory is None else self._item(memory)

    def _put(self, op: PutOp):
        user, path = self._split(op.namespace)
        if op.ttl:  # None, or NotProvided (falsy), is no TTL
            raise NotImplementedError("PymemStore does not support TTLs")
        current = yield from self._current(user, path, op.key)
        if op.value is None:
            if current is not None:
                yield ("forget", (current.id,), {"reason": "langgraph delete"})
            return None
        value = dict(op.value)
        if op.index is False:  # not for search: only the key stands for it
            content = op.key
        elif op.index:
            content = " ".join(str(v) for v in (_field(value, p) for p in op.index) if v is not None)
        else:
            text = next((value[k] for k in ("content", "text", "memory") if isinstance(value.get(k), str)), None)
            content = text if text is not None else json.dumps(value, sort_keys=True, default=str)
        created = (_saved(current)["created_at"] if current is not None
                   else dt.datetime.now(dt.timezone.utc).isoformat())
        metadata = {"langgraph": {"path": _path(path), "prefixes": _prefixes(path), "namespace": list(path),
                                  "key": op.key, "value": value, "created_at": created}}
        kwargs = {"kind": "fact", "metadata": metadata, "subject": _slot_part("langgraph", _path(path)),
                  "attribute": _slot_part("key", op.key), "value": json.dumps(value, sort_keys=True, default=str)}
        yield ("remember", (user, content or op.key), kwargs)
        return None

    def _search(self, op: SearchOp):
        user, path = self._split(op.namespace_prefix)
        scope = {"langgraph": {"prefixes": [_path(path)]}} if path else {"langgraph": {}}
        exact = {k: v for k, v in (op.filter or {}).items()
                 if not (isinstance(v, dict) and v and all(x.startswith("$") for x in v)) and "." not in k}
        if exact:
            scope["langgraph"]["value"] = exact
        wanted = op.offset + op.limit
        found: list[Item] = []
        if op.query:
            depth = wanted
            while True:
                memories = yield ("retrieve", (user, op.query), {"top_k": min(1000, depth),
                                                                 "filters": {"metadata": scope}})
                found = [self._item(m, SearchItem, score=m.score) for m in memories
                         if _saved(m) is not None and _matches(_saved(m)["value"], op.filter or {})]
                if len(found) >= wanted or len(memories) < depth or depth >= 1000:
                    break
                depth = min(1000, depth * 4)
        else:
            before = None
            while len(found) < wanted:
                page = yield ("list", (user,), {"filters": {"metadata": scope}, "limit": _SCAN, "before": before})
                found += [self._item(m, SearchItem) for m in page
                          if _saved(m) is not None and _matches(_saved(m)["value"], op.filter or {})]
                if len(page) < _SCAN:
                    break
                before = page[-1].id
        return found[op.offset:wanted]

    def _list_namespaces(self, op: ListNamespacesOp):
        conditions = tuple(op.match_conditions or ())
        prefix = next((c for c in conditions if c.match_type == "prefix"), None)
        fixed = tuple(p for p in (prefix.path if prefix else ()))
        fixed = fixed[:next((i for i, p in enumerate(fixed) if p == "*"), len(fixed))]
        user, path = self._split(fixed)
        scope = {"langgraph": {"prefixes": [_path(path)]}} if path else {"langgraph": {}}
        namespaces: set[tuple[str, ...]] = set()
        before = None
        while True:
            page = yield ("list", (user,), {"filters": {"metadata": scope}, "limit": _SCAN, "before": before})
            namespaces.update(self._namespace(user, _saved(m)["namespace"]) for m in page if _saved(m) is not None)
            if len(page) < _SCAN:
                break
            before = page[-1].id
        selected = sorted({ns[:op.max_depth] if op.max_depth is not None else ns for ns in namespaces
                           if all(_namespace_matches(c, ns) for c in conditions)})
        return selected[op.offset:op.offset + op.limit]
