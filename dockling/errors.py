"""The one exception tree of dockling.

Every error the engine raises on purpose is a ``DocklingError``; each class
maps to exactly one HTTP status of the Engine API, so the API layer turns any
of them into ``{"message": str(err)}`` with that status, and the CLI prints
``Error response from daemon: <message>``.

    DocklingError
     ├── NotModified       304  (e.g. starting a running container)
     ├── InvalidArgument   400  (bad flag, bad config.json field, bad reference)
     │    └── CommandFailed      (a build's RUN exited non-zero: carries the code)
     ├── Forbidden         403
     ├── NotFound          404  (no such container / image / network)
     ├── Conflict          409  (name in use, wrong lifecycle state)
     ├── InternalError     500  (a kernel call or a helper failed)
     └── Unavailable       503  (a feature this node cannot serve: swarm mode)

DESIGN.md called the last one ``SystemError``; it is ``InternalError`` here
so that it never shadows Python's builtin of that name in a module that
imports it.

Foreign errors (OSError from mount, netlink errors, registry HTTP errors) are
translated where they are caught, with the path or ID that explains them, and
chained with ``raise X(...) from err``. Callers test types, not message text.
"""

from __future__ import annotations

__all__ = [
    "CommandFailed",
    "Conflict",
    "DocklingError",
    "Forbidden",
    "InternalError",
    "InvalidArgument",
    "NotFound",
    "NotModified",
    "Unavailable",
]


class DocklingError(Exception):
    """Base of every dockling error; ``status`` is its HTTP status code."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotModified(DocklingError):
    status = 304


class InvalidArgument(DocklingError):
    status = 400


class CommandFailed(InvalidArgument):
    """A build step's command returned non-zero; ``code`` is its exit status
    (the docker CLI exits with it)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Forbidden(DocklingError):
    status = 403


class NotFound(DocklingError):
    status = 404


class Conflict(DocklingError):
    status = 409


class InternalError(DocklingError):
    status = 500


class Unavailable(DocklingError):
    """moby's errdefs.Unavailable: what a node cannot do in its present state (a
    node in no swarm asked for swarm state)."""

    status = 503
