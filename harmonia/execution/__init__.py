"""Executing validated GraphQL operations: graphql-core's executor, or a plan compiled once per document."""
