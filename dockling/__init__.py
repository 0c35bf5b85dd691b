"""dockling: a Docker-compatible container engine written in Python.

``dockling.Engine`` is the engine in-process (dockling/engine.py). It is
loaded on first use, not here: the CLI imports this package for
``__version__`` and must not pay for the engine."""

__version__ = "0.1.0"
__all__ = ["Engine", "__version__"]


def __getattr__(name: str):
    if name == "Engine":
        from dockling.engine import Engine

        return Engine
    raise AttributeError(f"module 'dockling' has no attribute {name!r}")
