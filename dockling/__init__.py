"""dockling: a Docker-compatible container engine written in Python."""

__version__ = "0.1.0"
