"""Names users give objects (containers, volumes): docker's one rule for both.

moby's ``daemon/names``: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``. Each caller words its
own error (docker's messages differ per object), this module only decides.
"""

from __future__ import annotations

import re

ALLOWED = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME_RE = re.compile(rf"^{ALLOWED}+$")


def valid(name: str) -> bool:
    """True when ``name`` is a name docker accepts (no leading slash)."""
    return bool(_NAME_RE.match(name))
