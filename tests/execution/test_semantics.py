"""The compiled executor against graphql-core on a schema built to fail in every position.

The gateway's own schema rarely fails inside a list of non-null items or below a chain of
non-null fields; this schema does, synchronously and asynchronously, so null propagation, the
errors kept and dropped under a nulled parent, their paths and locations, list coercion and leaf
coercion errors are compared on every corner.
"""

from __future__ import annotations

import asyncio
from inspect import isawaitable
from typing import Any

import pytest
from graphql import ExecutionResult, build_schema, execute, parse

from harmonia.execution.compiled import CompiledExecutor

SDL = """
type Query {
  items(fail: Int, slow: Boolean = false): [Item!]!
  maybeItems(fail: Int, slow: Boolean = false): [Item]
  item(id: ID = "1"): Item
  strictItem: Item!
  number(x: Int!): Int
  numbers: [Int!]
  matrix: [[Int]]
  notAList: [Int]
  badLeaf: Int
  boom: String
}
type Item {
  id: ID!
  name: String!
  note: String
  slowName: String!
  child: Item
  strictChild: Item!
  tags: [String!]!
}
"""


class ItemSource:
    def __init__(self, n: int, fail: int | None = None) -> None:
        self.id = str(n)
        self.name = None if n == fail else f"item {n}"
        self.note = None if n % 2 else f"note {n}"
        self.fail = fail
        self.n = n
        self.tags = ["a", None] if n == fail else ["a", "b"]

    async def slowName(self, _info: Any) -> str | None:
        await asyncio.sleep(0.001 * (3 - self.n % 3))
        return None if self.n == self.fail else f"slow {self.n}"

    def child(self, _info: Any) -> ItemSource | None:
        return ItemSource(self.n + 10, self.fail) if self.n < 10 else None

    def strictChild(self, _info: Any) -> ItemSource | None:
        return None if self.n == self.fail else ItemSource(self.n + 100)


def make_schema() -> Any:
    schema = build_schema(SDL)
    query = schema.query_type
    assert query is not None

    def items(_root: Any, _info: Any, fail: int | None = None, slow: bool = False) -> Any:
        made = [ItemSource(n, fail) for n in range(4)]
        if not slow:
            return made

        async def later(item: ItemSource) -> ItemSource:
            await asyncio.sleep(0.001 * (4 - item.n))
            return item

        return [later(i) for i in made]

    def boom(_root: Any, _info: Any) -> str:
        raise ValueError("boom")

    query.fields["items"].resolve = items
    query.fields["maybeItems"].resolve = lambda r, i, fail=None, slow=False: items(r, i, fail, slow)
    query.fields["item"].resolve = lambda _r, _i, id="1": ItemSource(int(id)) if id != "0" else None
    query.fields["strictItem"].resolve = lambda _r, _i: None
    query.fields["number"].resolve = lambda _r, _i, x: x * 2
    query.fields["numbers"].resolve = lambda _r, _i: [1, None, 3]
    query.fields["matrix"].resolve = lambda _r, _i: [[1, None], None, [3]]
    query.fields["notAList"].resolve = lambda _r, _i: 7
    query.fields["badLeaf"].resolve = lambda _r, _i: "not a number"
    query.fields["boom"].resolve = boom
    for name in ("slowName", "child", "strictChild"):
        schema.get_type("Item").fields[name].resolve = (  # type: ignore[union-attr]
            lambda source, info, _n=name: getattr(source, _n)(info))
    return schema


def shape(result: ExecutionResult) -> dict[str, Any]:
    return {"data": result.data,
            "errors": [(e.message, e.path, [(loc.line, loc.column) for loc in e.locations or ()],
                        type(e.original_error).__name__) for e in result.errors or ()]}


async def run(outcome: Any) -> ExecutionResult:
    result: ExecutionResult = await outcome if isawaitable(outcome) else outcome
    return result


QUERIES = [
    ("{ items { id name } }", None),
    ("{ items(fail: 2) { id name } }", None),
    ("{ maybeItems(fail: 2) { id name note } }", None),
    ("{ maybeItems(fail: 1, slow: true) { id slowName tags } }", None),
    ("{ items(fail: 3, slow: true) { id slowName } boom }", None),
    ("{ maybeItems(fail: 2) { id child { id name child { name } } strictChild { id } } }", None),
    ("{ a: maybeItems(fail: 0) { tags } b: item { ...F } c: item(id: \"0\") { id } }\n"
     "fragment F on Item { id alias: name child { __typename id } }", None),
    ("{ strictItem { id } boom }", None),
    ("{ numbers matrix notAList badLeaf boom __typename }", None),
    ("query($x: Int!) { number(x: $x) }", {"x": 21}),
    ("query($x: Int!) { number(x: $x) }", {"x": "nope"}),
    ("query($x: Int!) { number(x: $x) }", {}),
    ("query($s: Boolean!, $i: Boolean = true) { items { id name @skip(if: $s) note @include(if: $i) } }",
     {"s": True}),
    ("query($s: Boolean!, $i: Boolean = true) { items { id name @skip(if: $s) note @include(if: $i) } }",
     {"s": False, "i": False}),
    ("query($id: ID = \"2\") { item(id: $id) { id slowName strictChild { name slowName } } }", None),
    ("{ maybeItems(fail: 2, slow: true) { id strictChild { id slowName } child { slowName } } }", None),
    ("{ __schema { queryType { name } } __type(name: \"Item\") { fields { name } } }", None),
    ("query A { boom } query B { numbers }", None),
]


@pytest.mark.parametrize(("query", "variables"), QUERIES)
async def test_the_compiled_executor_answers_what_graphql_core_answers(query: str, variables: Any) -> None:
    schema = make_schema()
    compiled = CompiledExecutor(schema)
    document = parse(query)
    name = "B" if "query B" in query else None

    theirs = await run(execute(schema, document, variable_values=variables, operation_name=name))
    mine = await run(compiled.execute(document, query, None, variables, name))
    again = await run(compiled.execute(document, query, None, variables, name))  # from the cached plan

    assert shape(mine) == shape(theirs)
    assert shape(again) == shape(theirs)


async def test_a_mutation_runs_on_graphql_core_unchanged() -> None:
    schema = build_schema("type Query { a: Int } type Mutation { set(x: Int!): Int }")
    schema.mutation_type.fields["set"].resolve = lambda _r, _i, x: x + 1  # type: ignore[union-attr]
    document = parse("mutation { set(x: 1) }")

    result = await run(CompiledExecutor(schema).execute(document, "mutation { set(x: 1) }", None, None, None))

    assert result.data == {"set": 2} and not result.errors
