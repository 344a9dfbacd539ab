"""Operation limits as graphql-core validation rules, one per module, run by ``harmonia.limits.check``."""
