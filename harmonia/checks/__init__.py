"""Schema checks: a proposed schema or policy against the current one and the field usage recorded.

    changes = schema_changes(current_schema, proposed_schema)          # or policy_changes(...)
    report = check(changes, await usage.entries(168), window_hours=168, threshold=Threshold.parse("1%"))
    print(render_text(report)); raise SystemExit(report.exit_code)     # 0 safe, 1 breaking

``harmonia schema check`` and the admins' ``dryRunPolicy`` build the same report from these modules.
"""
