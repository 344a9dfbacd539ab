"""Field usage: how often each client selects each ``Type.field``, per hour, to retire fields safely.

    usage = FieldUsage(target, prefix="harmonia:usage:", retention_days=30)   # target None: in process
    usage.record("dashboard", usage.coordinates(schema, document, operation),
                 operation="Dashboard", version="2.3.1", grant="marketer")       # per operation, cheap
    await usage.flush()                      # batched: one Redis pipeline for everything pending
    rows = await usage.report(hours=24)      # [UsageRow("Customer.email", "dashboard", 12, ...)]
    entries = await usage.entries(hours=168) # per client, version, operation and role set (schema checks)
    deprecated_fields(schema)                # [("Customer.legacyId", "use id")]

Counting happens once per operation from the validated document (each field selected counts
once per operation, whatever the number of objects it resolves on), never per resolver call. The
coordinates of a document are computed once and kept with it. Counts wait in process and reach
Redis every few seconds, one Lua call per hour touched in one pipeline (a hash per hour, field
``client<TAB>coordinate<TAB>operation<TAB>version<TAB>roles``, the operation itself counted under
the coordinate ``*``), so every instance's counts add up; without Redis they stay in the process.
Memory is bounded: names are capped before they get here (``usage_clients``), and each hourly hash
takes at most ``max_fields_per_hour`` fields, later new ones folding into ``(other)``.
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

from harmonia.observability.usage_clients import OTHER
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


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """Operations of one client (version, operation name, role set) that selected one field in one hour."""

    hour: int             # hours since the epoch
    client: str
    coordinate: str       # "Customer.email"; OPERATIONS counts the operations themselves
    operation: str        # the operation's name, "(anonymous)", or "" in counts from before names were kept
    version: str          # graphql-client-version, "" when not sent
    grant: str            # roles and scopes the operation ran under (usage_clients.grant_label)
    count: int

    @property
    def at(self) -> datetime:
        return _at(self.hour)


def _hour(ts: float) -> int:
    return int(ts // HOUR)


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)


# Per hourly hash: new fields past this many go to "(other)<TAB>coordinate" (at most one per field of
# the schema): what any number of invented names can cost Redis, per hour of retention.
MAX_FIELDS_PER_HOUR = 100_000
OPERATIONS = "*"  # the coordinate under which each operation itself is counted once

# KEYS[1]: one hour's hash. ARGV: max fields, expire-at (epoch s), then (field, overflow field, n) triples.
_WRITE = """
local max = tonumber(ARGV[1])
local size = redis.call('HLEN', KEYS[1])
for i = 3, #ARGV, 3 do
  local f = ARGV[i]
  if size >= max and redis.call('HEXISTS', KEYS[1], f) == 0 then f = ARGV[i + 1] end
  local n = tonumber(ARGV[i + 2])
  if redis.call('HINCRBY', KEYS[1], f, n) == n then size = size + 1 end
end
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return size
"""

Pending = tuple[int, str, str, str, str, frozenset[str]]  # hour, client, version, operation, grant, coordinates


def _field(client: str, coordinate: str, operation: str, version: str, grant: str) -> str:
    return SEP.join((client, coordinate, operation, version, grant))


def _parse(raw: str, hour: int, count: int) -> UsageEntry:
    # Fields from before operations were kept have two parts: client and coordinate.
    parts = raw.split(SEP)
    parts += [""] * (5 - len(parts))
    return UsageEntry(hour, parts[0], parts[1], parts[2], parts[3], parts[4], count)


class FieldUsage:
    def __init__(self, target: RedisTarget | str | None = None, *, prefix: str = "harmonia:usage:",
                 retention_days: int = 30, timeout: float = 1.0, max_fields_per_hour: int = MAX_FIELDS_PER_HOUR,
                 ) -> None:
        self.prefix = prefix
        self.retention = retention_days * 24 * HOUR
        self.max_fields = max_fields_per_hour
        # One increment per operation, spread over the operation's coordinates only when flushed.
        self.pending: Counter[Pending] = Counter()
        self.local: Counter[tuple[int, str]] = Counter()     # without Redis: (hour, field) -> count, here
        if isinstance(target, str):
            target = RedisTarget.parse(target)
        # Each hour's hash is one key, written by one script call: the same on a Cluster.
        self._redis = open_client(target, with_timeout(ADMIN, timeout)) if target is not None else None
        self._write = self._redis.register_script(_WRITE) if self._redis is not None else None
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

    def record(self, client: str, coordinates: frozenset[str], now: float | None = None, *,
               operation: str = "", version: str = "", grant: str = "") -> None:
        """One operation of ``client``; names must already be bounded (usage_clients.UsageNames)."""
        hour = _hour(time.time() if now is None else now)
        self.pending[(hour, client, version, operation, grant, coordinates)] += 1

    def _batch(self, pending: Counter[Pending]) -> Counter[tuple[int, str]]:
        batch: Counter[tuple[int, str]] = Counter()
        for (hour, client, version, operation, grant, coordinates), n in pending.items():
            batch[(hour, _field(client, OPERATIONS, operation, version, grant))] += n
            for coordinate in coordinates:
                batch[(hour, _field(client, coordinate, operation, version, grant))] += n
        return batch

    async def flush(self) -> None:
        """Everything pending into Redis, one script call per hour (or into the process's own counts)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, Counter()
        batch = self._batch(pending)
        if self._redis is None or self._write is None:
            self.local.update(batch)
            return
        by_hour: dict[int, list[str | int]] = {}
        for (hour, field), n in batch.items():
            coordinate = field.split(SEP, 2)[1]
            by_hour.setdefault(hour, []).extend((field, _field(OTHER, coordinate, "", "", ""), n))
        try:
            # One script call per hour (a flush spans one hour, rarely two): on a Cluster each hash is
            # one key, so no pipeline has to be split across nodes.
            for hour in sorted(by_hour):
                expire_at = (hour + 1) * HOUR + self.retention
                await self._write(keys=[f"{self.prefix}{hour}"], args=[self.max_fields, expire_at, *by_hour[hour]])
        except FAILURES as exc:
            self.pending.update(pending)  # kept for the next flush; counts are never lost to a Redis blip
            log.warning("field usage not written to Redis (%s); will retry", type(exc).__name__)

    # --- reading --------------------------------------------------------------------------------

    async def entries(self, hours: int, now: float | None = None) -> list[UsageEntry]:
        """Every recorded entry of the last ``hours`` hours (this one included), operations counts too."""
        await self.flush()
        last = _hour(time.time() if now is None else now)
        first = last - max(1, hours) + 1
        if self._redis is None:
            return [_parse(field, hour, n) for (hour, field), n in self.local.items() if first <= hour <= last]
        pipe = self._redis.pipeline(transaction=False)
        wanted = range(first, last + 1)
        for hour in wanted:
            pipe.hgetall(f"{self.prefix}{hour}")
        found: list[UsageEntry] = []
        for hour, fields in zip(wanted, await pipe.execute(), strict=True):
            for raw_key, raw_count in fields.items():
                found.append(_parse(raw_key.decode("utf-8", "replace"), hour, int(raw_count)))
        return found

    async def counts(self, hours: int, now: float | None = None) -> dict[tuple[int, str, str], int]:
        """(hour, client, coordinate) -> uses, over the last ``hours`` hours (this one included)."""
        found: Counter[tuple[int, str, str]] = Counter()
        for e in await self.entries(hours, now):
            if e.coordinate != OPERATIONS:
                found[(e.hour, e.client, e.coordinate)] += e.count
        return dict(found)

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
