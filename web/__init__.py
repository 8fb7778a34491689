"""HTTP plumbing: the request pipeline and its steps (auth, limits, cache, idempotency, errors, OpenAPI)."""
