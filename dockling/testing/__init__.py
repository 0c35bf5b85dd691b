"""Helpers for tests, benchmarks and the set-up script (no engine code)."""
