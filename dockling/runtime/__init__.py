"""The OCI runtime: an OCI bundle (config.json + rootfs) becomes an isolated process.

``Runtime`` is the library API the engine calls in-process; ``dockling-runc``
(``dockling.runtime.cli``) is the same code behind runc's command line.
"""

from dockling.runtime.container import Container, Runtime
from dockling.runtime.state import Status

__all__ = ["Container", "Runtime", "Status"]
