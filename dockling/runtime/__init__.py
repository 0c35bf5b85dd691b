"""The OCI runtime: an OCI bundle (config.json + rootfs) becomes an isolated process.

``Runtime`` is the library API the engine calls in-process; ``dockling-runc``
(``dockling.runtime.cli``) is the same code behind runc's command line.
"""

from dockling.runtime.container import Container, Runtime
from dockling.runtime.state import Status

BUILTIN = ("dockling", "builtin")


def api_name(name: str) -> str:
    """A runtime's name in the API (HostConfig.Runtime, /info DefaultRuntime): the
    built-in one speaks runc's verbs and stands in for runc, docker's default, so a
    client that asks for or expects "runc" gets what it means."""
    return "runc" if name in BUILTIN else name


def open_runtime(name: str, root: str):
    """The built-in runtime (in-process), or another OCI runtime's CLI by name."""
    if name in BUILTIN:
        return Runtime(root)
    from dockling.runtime.oci_cli import CLIRuntime

    return CLIRuntime(name, root)


__all__ = ["BUILTIN", "Container", "Runtime", "Status", "api_name", "open_runtime"]
