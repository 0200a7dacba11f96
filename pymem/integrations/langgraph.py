"""A LangGraph ``BaseStore`` over one pymem tenant: ``graph.compile(store=PymemStore(...))``.

How namespaces map (the store is bound to one tenant when it is built; no namespace can
name another). The store must know which pymem user owns an item, since ``erase_user`` and
isolation between users depend on it, and LangChain's own docs disagree on where the user
sits: LangMem writes ``("memories", user_id)``, LangGraph's store guide ``(user_id,
"memories")``. So there is no default; the store is built with one of:

- ``PymemStore(tenant, user_from=1)``: the user is the namespace's element at that position
  (1 for LangMem's ``("memories", "{langgraph_user_id}")``, 0 for ``(user_id, ...)``); the
  other elements are a path within that user: ``("memories", "alice")`` is alice's
  ``("memories",)``.
- ``PymemStore(tenant, user_from=callable)``: ``callable(namespace)`` returns the user id
  (or None when the namespace names none); the whole namespace is the path within the user.
- ``PymemStore(tenant, user_id="alice")``: every namespace lives in user alice's memory.

A namespace (or a search or ``list_namespaces`` prefix) that does not name the user is
refused with ``InvalidNamespaceError``: pymem searches and lists per user.
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

Items are not conversational memory: they carry ``langgraph`` metadata, and the client's
``retrieve`` (so the MCP, HTTP, LangChain and LlamaIndex surfaces) leaves them out unless
called with ``include_store_items=True``. ``SearchItem.score`` is pymem's retrieval score
clamped to [0, 1] (the ranking is pymem's; a score above 1 from importance and recency
reads as 1, the order of the results is unchanged).

Built on a ``TenantClient`` its calls block (``abatch`` runs them in a thread); on an
``AsyncTenantClient`` (``pymem.connect_async``) ``abatch`` awaits them, and a sync call (a
sync graph node under ``ainvoke``, which LangGraph runs in a worker thread) is handed to the
event loop the client runs on. A sync call on that loop's own thread, or with no loop
running, would deadlock or has nowhere to run: it raises ``TypeError`` naming the fix.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import unicodedata
from typing import Any, Callable, Iterable

from ..client import STORE_ITEM_KEY, AsyncTenantClient, StoredMemory, TenantClient

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
    saved = memory.metadata.get(STORE_ITEM_KEY) if isinstance(memory.metadata, dict) else None
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

    def __init__(self, tenant: TenantClient | AsyncTenantClient, *, user_id: str | None = None,
                 user_from: int | Callable[[tuple[str, ...]], str | None] | None = None):
        if (user_id is None) == (user_from is None):
            raise TypeError(
                "PymemStore needs to know which pymem user owns a namespace, and only one way: "
                "user_from=1 for LangMem's ('memories', user_id), user_from=0 for (user_id, ...), "
                "user_from=<callable(namespace) -> user id>, or user_id='...' for one user")
        if user_from is not None and not callable(user_from) and (
                not isinstance(user_from, int) or isinstance(user_from, bool) or user_from < 0):
            raise TypeError(f"user_from is a position (an int >= 0) or a callable, not {user_from!r}")
        self.tenant = tenant
        self.user_id = user_id
        self.user_from = user_from
        # The loop an async client runs on, so a sync call from a worker thread can be handed to
        # it (its connections belong to that loop). Known when the store is built in async code
        # or once an async call has run.
        self._loop: asyncio.AbstractEventLoop | None = None
        if isinstance(tenant, AsyncTenantClient):
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                pass

    # -- the two entry points LangGraph calls -----------------------------------------

    def batch(self, ops: Iterable) -> list:
        if isinstance(self.tenant, AsyncTenantClient):
            return self._batch_on_loop(list(ops))
        return [self._run(self._op(op)) for op in ops]

    async def abatch(self, ops: Iterable) -> list:
        if not isinstance(self.tenant, AsyncTenantClient):
            return await asyncio.to_thread(self.batch, list(ops))
        self._loop = asyncio.get_running_loop()
        return [await self._arun(self._op(op)) for op in ops]

    def _batch_on_loop(self, ops: list) -> list:
        """A sync call on a store over the async client: run on the client's loop from another thread."""
        fix = ("make the node async and use the store's a* methods (await store.aput(...)), or build "
               "the store on the sync client (pymem.connect())")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise TypeError(f"PymemStore over an async client was called synchronously on its event loop's "
                            f"thread, where waiting would deadlock: {fix}")
        if self._loop is None or not self._loop.is_running() or self._loop.is_closed():
            raise TypeError(f"PymemStore over an async client was called synchronously with no running event "
                            f"loop to hand the call to (a sync graph node works under graph.ainvoke): {fix}")
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), self._loop).result()

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
        if callable(self.user_from):
            user = self.user_from(namespace)
            if user is None:
                raise InvalidNamespaceError(f"user_from names no user in the namespace {namespace!r}")
            if not isinstance(user, str) or not user:
                raise InvalidNamespaceError(f"user_from returned {user!r} for {namespace!r}, not a user id")
            return user, namespace
        position = self.user_from
        if len(namespace) <= position:
            raise InvalidNamespaceError(f"the namespace {namespace!r} has no user: this store takes the user from "
                                        f"element {position} (user_from={position})")
        return namespace[position], namespace[:position] + namespace[position + 1:]

    def _namespace(self, user: str, path: list[str]) -> tuple[str, ...]:
        """The namespace an item of ``user`` stored under ``path`` was put with (_split undone)."""
        if self.user_id is not None or callable(self.user_from):
            return tuple(path)
        return (*path[:self.user_from], user, *path[self.user_from:])

    def _current(self, user: str, path: tuple[str, ...], key: str):
        """The memory holding the item now (the newest whole one), or None."""
        page = yield ("list", (user,), {"filters": {"metadata": {STORE_ITEM_KEY: {"path": _path(path), "key": key}}},
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
        metadata = {STORE_ITEM_KEY: {"path": _path(path), "prefixes": _prefixes(path), "namespace": list(path),
                                  "key": op.key, "value": value, "created_at": created}}
        kwargs = {"kind": "fact", "metadata": metadata, "subject": _slot_part("langgraph", _path(path)),
                  "attribute": _slot_part("key", op.key), "value": json.dumps(value, sort_keys=True, default=str)}
        yield ("remember", (user, content or op.key), kwargs)
        return None

    def _search(self, op: SearchOp):
        user, path = self._split(op.namespace_prefix)
        scope = {STORE_ITEM_KEY: {"prefixes": [_path(path)]}} if path else {STORE_ITEM_KEY: {}}
        exact = {k: v for k, v in (op.filter or {}).items()
                 if not (isinstance(v, dict) and v and all(x.startswith("$") for x in v)) and "." not in k}
        if exact:
            scope[STORE_ITEM_KEY]["value"] = exact
        wanted = op.offset + op.limit
        found: list[Item] = []
        if op.query:
            depth = wanted
            while True:
                memories = yield ("retrieve", (user, op.query), {"top_k": min(1000, depth),
                                                                 "filters": {"metadata": scope},
                                                                 "include_store_items": True})
                found = [self._item(m, SearchItem, score=min(1.0, max(0.0, m.score))) for m in memories
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
        scope = {STORE_ITEM_KEY: {"prefixes": [_path(path)]}} if path else {STORE_ITEM_KEY: {}}
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
