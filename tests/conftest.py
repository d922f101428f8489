"""Shared fixtures. Integration tests use this machine's real Redis (REDIS_URL) and the test database."""
