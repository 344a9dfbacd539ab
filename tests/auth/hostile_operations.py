"""Operations as a hostile client writes them: hypothesis-graphql's generated documents (over a role's
own view and over the full schema, valid and invalid) and hand-written attacks, then reshaped by
hypothesis: real ids and emails of the seeded data, aliases that look like the gateway's own names,
fragments (named, inline, with and without a type condition), @skip/@include on variables, and
introspection tucked into fragments and aliases.

    ops = HostileOperations(seeded, pool)
    text, variables = data.draw(ops.operations())

Hypothesis draws which document and a seed; the reshaping's many small choices come from a
``random.Random`` of that seed (one draw instead of hundreds: thousands of operations stay quick).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    parse,
    print_ast,
)
from hypothesis import strategies as st

# Response keys a client might hope the gateway also uses, and names of real fields to swap.
ALIASES = ("_harmoniaTypename", "__typename", "harmoniaTypename", "typename", "_typename", "email", "phone",
           "firstName", "lastName", "id", "name", "stats", "data", "errors", "extensions", "fieldPolicies",
           "node", "edges", "x")
INTROSPECTION = (
    "__schema { queryType { name fields { name args { name } } } mutationType { name fields { name } } "
    "types { name kind fields { name type { name kind ofType { name } } } inputFields { name } "
    "enumValues { name } possibleTypes { name } } }",
    '__type(name: "Query") { fields { name } }',
    '__type(name: "Campaign") { fields { name type { name } } }',
    '__type(name: "Customer") { fields { name } }',
    '__type(name: "Mutation") { fields { name args { name } } }',
    '__type(name: "FieldPolicy") { name fields { name } }',
    '__type(name: "CampaignStats") { name fields { name } }',
    "__schema { types { name } }",
)
HANDWRITTEN = (
    '{ node(id: "$CUSTOMER") { ... on Customer { _harmoniaTypename: firstName email phone } } }',
    '{ node(id: "$CUSTOMER") { ... on Customer { email phone _harmoniaTypename: lastName } } }',
    '{ node(id: "$CUSTOMER") { __typename: id ... on Customer { email phone } } }',
    '{ n: node(id: "$CUSTOMER") { ...C } } fragment C on Customer { firstName: email lastName: phone }',
    '{ node(id: "$ORDER") { ... on Order { customer { ... on Node { ... on Customer { email phone } } } } } }',
    '{ node(id: "$CAMPAIGN") { ... on Campaign { s: stats { clicks } a: analytics(dateRange: '
    '{startDate: "2026-01-01", endDate: "2026-01-31"}) { sessions } } } }',
    "{ customers(first: 3) { edges { node { id: email name: phone ... on Customer { email phone } } } } }",
    "{ orders(first: 3) { edges { node { customer { ...C } } } } } fragment C on Customer { email phone }",
    "{ campaigns(first: 2) { edges { node { ... on Campaign { stats { clicks } } } } } }",
    '{ customerByEmail(email: "$EMAIL") { firstName lastName } }',
    'query($e: String!) { hit: customerByEmail(email: $e) { id } }',
    '{ ... on Query { customerByEmail(email: "$EMAIL") { email } } }',
    "query($r: DateRangeInput!) { campaigns(first: 1) { edges { node { stats(dateRange: $r) { clicks } } } } }",
    "query($r: DateRangeInput) { analytics(dateRange: $r, dimensions: [], metrics: []) { rowCount } }",
    '{ analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-01-31"}, dimensions: ["date"], '
    'metrics: ["sessions"]) { rowCount } }',
    '{ erasureStatus(id: "$CUSTOMER") { state } }',
    "{ fieldPolicies { typeName fieldName } }",
    "{ f: fieldUsage { hours } }",
    "{ ...P } fragment P on Query { policyAudit { actor } }",
    "mutation { evictCache(type: ORDER) { evicted } }",
    'mutation { setFieldPolicy(input: {typeName: "Customer", fieldName: "email", read: [{roles: ["analyst"]}]}) '
    "{ typeName } }",
    "{ fieldPolicie { typeName } }",
    "{ policyAudi { actor } }",
    "mutation { evictCach(type: ORDER) { evicted } }",
    "{ campaigns { edges { node { stat { clicks } } } } }",
    "{ campaigns { edges { node { analytic { sessions } } } } }",
    '{ customerByEmai(email: "$EMAIL") { id } }',
    "{ analytic { rowCount } }",
    '{ erasureStatu(id: "x") { state } }',
    "{ customers { edges { node { emial phon } } } }",
    "{ ...Q } fragment Q on Query { __schema { types { name fields { name } } } }",
    "{ ... { __schema { mutationType { fields { name } } } } }",
    "{ a: __schema { queryType { fields { name } } } }",
)
# Mutations that write (for the roles that may): only the analyst, who may not, gets them.
WRITES = (
    'mutation { updateCustomer(id: "$CUSTOMER", input: {lifecycleStage: "lead"}) { customer { email phone } } }',
    'mutation { updateCampaignStatus(id: "$CAMPAIGN", action: "PAUSE") { campaign { stats { clicks } } } }',
    'mutation { setEmailMarketingConsent(id: "$CUSTOMER", status: "subscribed") { customer { email } } }',
)


@dataclass
class Seeded:
    """The simulators' seeded data as an admin sees it: ids and emails to aim at."""

    customer_ids: list[str]
    order_ids: list[str]
    campaign_ids: list[str]
    emails: list[str]


@dataclass
class HostileOperations:
    seeded: Seeded
    pool: list[DocumentNode]          # generated documents to reshape
    writes: bool = False              # mutations that write may be sent (only to roles that cannot write)

    def operations(self) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        texts = HANDWRITTEN + (WRITES if self.writes else ())
        # One in four from the hand-written attacks, the rest from the generated documents.
        sources = st.one_of(st.sampled_from(texts), st.sampled_from(self.pool), st.sampled_from(self.pool),
                            st.sampled_from(self.pool))
        return st.builds(self._build, sources, st.integers(0, 2**32 - 1))

    def _build(self, source: str | DocumentNode, seed: int) -> tuple[str, dict[str, Any]]:
        rng = random.Random(seed)
        handwritten = isinstance(source, str)
        if isinstance(source, str):
            for mark, values in (("$CUSTOMER", self.seeded.customer_ids), ("$ORDER", self.seeded.order_ids),
                                 ("$CAMPAIGN", self.seeded.campaign_ids), ("$EMAIL", self.seeded.emails)):
                source = source.replace(mark, rng.choice(values))
            source = parse(source)
        shaper = _Shaper(rng, self.seeded, keep_arguments=handwritten)  # hand-written ones aim already
        document = shaper.document(source)
        variables = dict(shaper.variables)
        text = print_ast(document)
        if "$e" in text and "e" not in variables:
            variables["e"] = rng.choice(self.seeded.emails)
        if "$r" in text and "r" not in variables:  # bad input objects: what do their errors name?
            variables["r"] = rng.choice(({"startDat": "2026-01-01", "endDate": "2026-01-31"}, {"endDate": "x"},
                                         {"startDate": 1, "endDate": None}, "nope", None, [1]))
        return text, variables


class _Shaper:
    """One reshaping of one document, each choice from the seeded ``rng``."""

    def __init__(self, rng: random.Random, seeded: Seeded, keep_arguments: bool = False) -> None:
        self.rng = rng
        self.seeded = seeded
        self.keep_arguments = keep_arguments
        self.variables: dict[str, Any] = {}
        self.definitions: list[VariableDefinitionNode] = []
        self.fragments: list[FragmentDefinitionNode] = []

    def chance(self, label: str, p: float = 0.2) -> bool:
        return self.rng.random() < p  # label: what the choice is, for whoever reads the code

    def document(self, document: DocumentNode) -> DocumentNode:
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        self.definitions = list(operation.variable_definitions or ())
        selections = self.selection_set(operation.selection_set, depth=0)
        if operation.operation.value == "query" and self.chance("introspection", 0.25):
            selections = self.with_introspection(selections)
        fragments = [FragmentDefinitionNode(name=d.name, type_condition=d.type_condition, directives=d.directives,
                                            selection_set=self.selection_set(d.selection_set, depth=1))
                     for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
        # Built last: the fragments' @skip/@include variables are declared on the operation too.
        reshaped = OperationDefinitionNode(
            operation=operation.operation, name=operation.name, directives=operation.directives,
            variable_definitions=tuple(self.definitions), selection_set=selections)
        return DocumentNode(definitions=(reshaped, *fragments, *self.fragments))

    def selection_set(self, node: SelectionSetNode, depth: int) -> SelectionSetNode:
        selections: list[Any] = []
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                selections.append(self.field(selection, depth))
            elif isinstance(selection, InlineFragmentNode):
                selections.append(InlineFragmentNode(
                    type_condition=selection.type_condition, directives=selection.directives,
                    selection_set=self.selection_set(selection.selection_set, depth + 1)))
            else:
                selections.append(selection)
        if depth > 0 and self.chance("typename"):
            alias = self.rng.choice((*ALIASES[:5], "t"))
            if alias != "__typename":
                selections.append(FieldNode(alias=NameNode(value=alias), name=NameNode(value="__typename")))
        wrapped = SelectionSetNode(selections=tuple(selections))
        if self.chance("wrap"):  # the same selections inside an untyped inline fragment
            wrapped = SelectionSetNode(selections=(InlineFragmentNode(selection_set=wrapped),))
        return wrapped

    def field(self, node: FieldNode, depth: int) -> FieldNode:
        alias = node.alias
        if self.chance("alias", 0.15):
            alias = NameNode(value=self.rng.choice(ALIASES))
        directives = tuple(node.directives or ())
        if self.chance("directive", 0.1):
            directives += (self.condition(),)
        arguments = tuple(node.arguments or ()) if self.keep_arguments else \
            tuple(self.argument(node.name.value, a) for a in node.arguments or ())
        selection_set = self.selection_set(node.selection_set, depth + 1) if node.selection_set else None
        return FieldNode(alias=alias, name=node.name, arguments=arguments, directives=directives,
                         selection_set=selection_set)

    def condition(self) -> DirectiveNode:
        name = self.rng.choice(("skip", "include"))
        if self.chance("literal condition", 0.5):
            value: ValueNode = BooleanValueNode(value=self.rng.random() < 0.5)
        else:
            variable = f"c{len(self.variables)}"
            self.variables[variable] = self.rng.random() < 0.5
            self.definitions.append(VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=variable)),
                type=NonNullTypeNode(type=NamedTypeNode(name=NameNode(value="Boolean")))))
            value = VariableNode(name=NameNode(value=variable))
        return DirectiveNode(name=NameNode(value=name), arguments=(ArgumentNode(name=NameNode(value="if"),
                                                                                 value=value),))

    def argument(self, owner: str, node: ArgumentNode) -> ArgumentNode:
        """Real ids and emails of the seeded data, small pages, valid date ranges: answers with data."""
        name = node.name.value
        seeded = self.seeded
        value = node.value
        if name == "id" and self.chance("real id", 0.9):
            kinds = {"order": seeded.order_ids, "campaign": seeded.campaign_ids,
                     "updateCampaignStatus": seeded.campaign_ids}
            ids = kinds.get(owner, seeded.customer_ids)
            if owner == "node" or self.chance("an id of another type", 0.1):
                ids = self.rng.choice((seeded.customer_ids, seeded.order_ids, seeded.campaign_ids))
            value = self.maybe_variable(StringValueNode(value=self.rng.choice(ids)), "ID")
        elif name == "email" and self.chance("real email", 0.9):
            value = self.maybe_variable(StringValueNode(value=self.rng.choice(seeded.emails)),
                                        "String")
        elif name == "first":
            value = IntValueNode(value=str(self.rng.randint(0, 5)))
        elif name == "after" and self.chance("no cursor", 0.8):
            value = NullValueNode()
        elif name == "dateRange" and self.chance("real range", 0.8):
            value = ObjectValueNode(fields=(
                ObjectFieldNode(name=NameNode(value="startDate"), value=StringValueNode(value="2026-01-01")),
                ObjectFieldNode(name=NameNode(value="endDate"), value=StringValueNode(value="2026-01-31"))))
        return ArgumentNode(name=node.name, value=value)

    def maybe_variable(self, literal: StringValueNode, type_name: str) -> ValueNode:
        if not self.chance("as variable", 0.3):
            return literal
        variable = f"v{len(self.variables)}"
        self.variables[variable] = literal.value
        self.definitions.append(VariableDefinitionNode(
            variable=VariableNode(name=NameNode(value=variable)),
            type=NonNullTypeNode(type=NamedTypeNode(name=NameNode(value=type_name)))))
        return VariableNode(name=NameNode(value=variable))

    def with_introspection(self, selections: SelectionSetNode) -> SelectionSetNode:
        snippet = parse("{ " + self.rng.choice(INTROSPECTION) + " }")
        operation = snippet.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        inner: FieldNode = operation.selection_set.selections[0]  # type: ignore[assignment]
        how = self.rng.choice(("plain", "alias", "inline", "untyped", "fragment", "nested"))
        if how == "alias":
            inner = FieldNode(alias=NameNode(value="i"), name=inner.name, arguments=inner.arguments,
                              selection_set=inner.selection_set)
        wrapped: Any = inner
        if how == "inline":
            wrapped = InlineFragmentNode(type_condition=NamedTypeNode(name=NameNode(value="Query")),
                                         selection_set=SelectionSetNode(selections=(inner,)))
        elif how == "untyped":
            wrapped = InlineFragmentNode(selection_set=SelectionSetNode(selections=(inner,)))
        elif how in ("fragment", "nested"):
            name = f"I{len(self.fragments)}"
            self.fragments.append(FragmentDefinitionNode(
                name=NameNode(value=name), type_condition=NamedTypeNode(name=NameNode(value="Query")),
                selection_set=SelectionSetNode(selections=(inner,))))
            wrapped = FragmentSpreadNode(name=NameNode(value=name))
            if how == "nested":
                wrapped = InlineFragmentNode(selection_set=SelectionSetNode(selections=(wrapped,)))
        return SelectionSetNode(selections=(*selections.selections, wrapped))
