"""Field usage: how often each client selects each ``Type.field``, per hour, to retire fields safely.

    usage = FieldUsage(target, prefix="harmonia:usage:", retention_days=30)   # target None: in process
    usage.record("dashboard", usage.coordinates(schema, document, operation))   # per operation, cheap
    await usage.flush()                      # batched: one Redis pipeline for everything pending
    rows = await usage.report(hours=24)      # [UsageRow("Customer.email", "dashboard", 12, ...)]
    deprecated_fields(schema)                # [("Customer.legacyId", "use id")]

Counting happens once per operation from the validated document (each field selected counts
once per operation, whatever the number of objects it resolves on), never per resolver call. The
coordinates of a document are computed once and kept with it. Counts wait in process and reach
Redis in one pipeline of ``HINCRBY`` every few seconds (hash per hour, field ``client<TAB>coordinate``),
so every instance's counts add up; without Redis they stay in the process.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)

from harmonia.shared_state import ADMIN, FAILURES, RedisTarget, open_client, with_timeout

log = logging.getLogger("harmonia.observability")
HOUR = 3600
SEP = "\t"


@dataclass(frozen=True, slots=True)
class UsageRow:
    coordinate: str       # "Customer.email"
    client: str
    count: int
    first_seen: datetime  # start of the first hour with a use, in the window
    last_seen: datetime   # start of the last one
    by_hour: tuple[tuple[datetime, int], ...]


def _hour(ts: float) -> int:
    return int(ts // HOUR)


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)


class FieldUsage:
    def __init__(self, target: RedisTarget | str | None = None, *, prefix: str = "harmonia:usage:",
                 retention_days: int = 30, timeout: float = 1.0) -> None:
        self.prefix = prefix
        self.retention = retention_days * 24 * HOUR
        # (hour, client, the operation's coordinates) -> operations: one increment per operation,
        # spread over the coordinates only when flushed.
        self.pending: Counter[tuple[int, str, frozenset[str]]] = Counter()
        self.local: Counter[tuple[int, str, str]] = Counter()     # without Redis: everything, here
        if isinstance(target, str):
            target = RedisTarget.parse(target)
        # Hour hashes are single keys; a pipeline over several is split per node on a Cluster.
        self._redis = open_client(target, with_timeout(ADMIN, timeout)) if target is not None else None
        self._documents: OrderedDict[tuple[int, str | None], tuple[DocumentNode, frozenset[str]]] = OrderedDict()

    # --- recording ------------------------------------------------------------------------------

    def coordinates(self, schema: GraphQLSchema, document: DocumentNode,
                    operation: OperationDefinitionNode) -> frozenset[str]:
        """The ``Type.field`` coordinates ``operation`` selects (fragments followed; introspection left out)."""
        name = operation.name.value if operation.name else None
        key = (id(document), name)
        cached = self._documents.get(key)
        if cached is not None and cached[0] is document:  # ids are reused once a document is freed
            return cached[1]
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        root = schema.get_root_type(operation.operation)
        found: set[str] = set()
        if root is not None:
            _walk(schema, operation.selection_set, root, fragments, found, set())
        coords = frozenset(found)
        self._documents[key] = (document, coords)
        if len(self._documents) > 1024:
            self._documents.popitem(last=False)
        return coords

    def record(self, client: str, coordinates: frozenset[str], now: float | None = None) -> None:
        self.pending[(_hour(time.time() if now is None else now), client, coordinates)] += 1

    async def flush(self) -> None:
        """Everything pending into Redis in one pipeline (or into the process's own counts)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, Counter()
        batch: Counter[tuple[int, str, str]] = Counter()
        for (hour, client, coordinates), n in pending.items():
            for coordinate in coordinates:
                batch[(hour, client, coordinate)] += n
        if self._redis is None:
            self.local.update(batch)
            return
        pipe = self._redis.pipeline(transaction=False)
        hours = set()
        for (hour, client, coordinate), n in batch.items():
            pipe.hincrby(f"{self.prefix}{hour}", f"{client}{SEP}{coordinate}", n)
            hours.add(hour)
        for hour in hours:
            pipe.expireat(f"{self.prefix}{hour}", (hour + 1) * HOUR + self.retention)
        try:
            await pipe.execute()
        except FAILURES as exc:
            self.pending.update(pending)  # kept for the next flush; counts are never lost to a Redis blip
            log.warning("field usage not written to Redis (%s); will retry", type(exc).__name__)

    # --- reading --------------------------------------------------------------------------------

    async def counts(self, hours: int, now: float | None = None) -> dict[tuple[int, str, str], int]:
        """(hour, client, coordinate) -> uses, over the last ``hours`` hours (this one included)."""
        await self.flush()
        last = _hour(time.time() if now is None else now)
        first = last - max(1, hours) + 1
        if self._redis is None:
            return {k: n for k, n in self.local.items() if first <= k[0] <= last}
        pipe = self._redis.pipeline(transaction=False)
        wanted = range(first, last + 1)
        for hour in wanted:
            pipe.hgetall(f"{self.prefix}{hour}")
        found: dict[tuple[int, str, str], int] = {}
        for hour, fields in zip(wanted, await pipe.execute(), strict=True):
            for raw_key, raw_count in fields.items():
                client, _, coordinate = raw_key.decode("utf-8", "replace").partition(SEP)
                found[(hour, client, coordinate)] = int(raw_count)
        return found

    async def report(self, hours: int, *, client: str | None = None, now: float | None = None) -> list[UsageRow]:
        by_pair: dict[tuple[str, str], dict[int, int]] = {}
        for (hour, who, coordinate), n in (await self.counts(hours, now)).items():
            if client is None or who == client:
                by_pair.setdefault((coordinate, who), {})[hour] = n
        rows = []
        for (coordinate, who), per_hour in by_pair.items():
            ordered = sorted(per_hour.items())
            rows.append(UsageRow(coordinate, who, sum(per_hour.values()), _at(ordered[0][0]), _at(ordered[-1][0]),
                                 tuple((_at(h), n) for h, n in ordered)))
        rows.sort(key=lambda r: (r.coordinate, -r.count, r.client))
        return rows

    async def aclose(self) -> None:
        await self.flush()
        if self._redis is not None:
            await self._redis.aclose()


def deprecated_fields(schema: GraphQLSchema) -> list[tuple[str, str]]:
    """(coordinate, reason) of every field marked ``@deprecated``."""
    found = []
    for type_name, named in sorted(schema.type_map.items()):
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for field_name, definition in named.fields.items():
            if definition.deprecation_reason is not None:
                found.append((f"{type_name}.{field_name}", definition.deprecation_reason))
    return found


def _walk(schema: GraphQLSchema, selection_set: SelectionSetNode, parent: object,
          fragments: dict[str, FragmentDefinitionNode], found: set[str], spread: set[str]) -> None:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        parent = None  # a union: only inline fragments and __typename below it
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name.startswith("__") or parent is None:
                continue
            definition = parent.fields.get(name)
            if definition is None:
                continue
            found.add(f"{parent.name}.{name}")
            if selection.selection_set is not None:
                _walk(schema, selection.selection_set, get_named_type(definition.type), fragments, found, spread)
        elif isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
            _walk(schema, selection.selection_set, target, fragments, found, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in spread:
                continue
            spread.add(name)  # each fragment once per operation: its fields count once anyway
            _walk(schema, fragment.selection_set, schema.get_type(fragment.type_condition.name.value),
                  fragments, found, spread)
