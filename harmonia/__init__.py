"""Harmonia: one GraphQL endpoint over marketing SaaS APIs."""
