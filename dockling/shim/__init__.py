"""The per-container shim (see shim.py) and the daemon's client for it."""
