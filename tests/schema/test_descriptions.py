"""Analysts read the schema in GraphiQL's docs: every type, field, argument and enum value is described."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType, Undefined

from harmonia.schema import build_schema


def test_every_type_field_and_argument_has_a_description() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(graphql_type, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in graphql_type.values.items() if not value.description]

    assert missing == []


def test_the_contracts_minimum_schema_is_there() -> None:
    schema = build_schema()._schema
    query = schema.query_type
    assert query is not None

    def signature(type_name: str, field_name: str) -> str:
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        field = graphql_type.fields[field_name]
        args = ", ".join(
            f"{name}: {arg.type}" + ("" if arg.default_value is Undefined or arg.default_value is None
                                     else f" = {arg.default_value}")
            for name, arg in field.args.items()
        )
        return f"{field_name}({args}): {field.type}" if args else f"{field_name}: {field.type}"

    assert signature("Query", "node") == "node(id: ID!): Node"
    assert signature("Query", "customer") == "customer(id: ID!): Customer"
    assert signature("Query", "customerByEmail") == "customerByEmail(email: String!): Customer"
    assert signature("Query", "customers") == "customers(first: Int = 20, after: String): CustomerConnection!"
    assert signature("Query", "order") == "order(id: ID!): Order"
    assert signature("Query", "orders") == "orders(first: Int = 20, after: String): OrderConnection!"
    assert signature("Query", "campaign") == "campaign(id: ID!): Campaign"
    assert signature("Query", "campaigns") == "campaigns(first: Int = 20, after: String): CampaignConnection!"
    assert signature("Query", "analytics").startswith(
        "analytics(dateRange: DateRangeInput!, dimensions: [String!]!, metrics: [String!]!")
    assert signature("Customer", "orders") == "orders(first: Int = 10, after: String): OrderConnection!"
    for type_name, fields in {
        "Customer": "id: ID! email: String firstName: String lastName: String phone: String lifecycleStage: String "
                    "createdAt: DateTime totalSpent: Money ordersCount: Int emailMarketingStatus: String",
        "Order": "id: ID! name: String! createdAt: DateTime! totalPrice: Money! financialStatus: String "
                 "customer: Customer lineItems: [LineItem!]! campaign: Campaign",
        "LineItem": "title: String! quantity: Int! price: Money!",
        "Campaign": "id: ID! name: String! channel: CampaignChannel! status: String",
        "Money": "amount: String! currencyCode: String!",
        "PageInfo": "hasNextPage: Boolean! endCursor: String",
    }.items():
        pairs = fields.split(" ")
        for name, type_text in zip(pairs[::2], pairs[1::2], strict=True):
            assert signature(type_name, name.rstrip(":")) == f"{name} {type_text}", (type_name, name)
    assert {i.name for i in schema.type_map["Customer"].interfaces} == {"Node"}  # type: ignore[union-attr]
    # The contract's two channels; it allows growing the enum (SOCIAL: declared ads platforms), never renaming.
    assert {"EMAIL", "SEARCH"} <= set(schema.type_map["CampaignChannel"].values)  # type: ignore[union-attr]
