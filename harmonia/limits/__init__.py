"""Pricing and limiting operations before they run, and metering clients over time.

    meter = CostMeter.from_settings(schema, settings)      # harmonia.limits.meter: what the pipeline uses

plan.py (the operation as execution will see it) -> pricing.py (static cost; introspection.py
for ``__schema``/``__type``) -> rules/ (depth, aliases, root fields, page size, cost: graphql-core
validation rules) run by check.py; upstream.py estimates SaaS requests; actual.py prices the
answer; budget.py / redis_budget.py / failover_budget.py hold the per-client leaky buckets.
"""
