"""A small Engine API client over the unix socket (stdlib only: fast start)."""
