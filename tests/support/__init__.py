"""Helpers the tests share, one module per concern (fixtures stay in the conftest files):

- services: the shared PostgreSQL and Redis, settings for a test app, skip-or-fail under CI
- http: an API conversation (users, tokens, keys, posts), problem bodies, shapes, row counts
- openapi_check: the test client that checks every response against /openapi.json
- clock: a clock the tests move instead of sleeping
- processes: free ports, waiting for a condition, stopping what a test started
- live: `flask --app app serve` in a subprocess
- private: private PostgreSQL, Redis and PgBouncer for tests that stop or kill them
- redis_topologies: Redis Sentinel and Cluster made of private redis-servers
- load: steady traffic against a live server while something happens to it
"""
