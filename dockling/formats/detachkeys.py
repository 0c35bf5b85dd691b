"""Detach keys: the key sequence that ends an attach (or exec) with a TTY and
leaves the container running (docker's ctrl-p,ctrl-q).

``parse`` reads docker's notation (moby/term ``ToBytes``: comma-separated keys,
each one character, ``ctrl-@`` .. ``ctrl-_`` or ``DEL``); ``EscapeProxy`` filters
the client's input as moby/term's escapeProxy does: the bytes of a partial
match are held back, given back if the sequence breaks off, and the whole
sequence ends the stream.
"""

from __future__ import annotations

from dockling.errors import InvalidArgument

DEFAULT = b"\x10\x11"  # ctrl-p, ctrl-q (moby's defaultEscapeSequence)
# moby/term's ASCII table: ctrl-@ is 0, ctrl-a 1 ... ctrl-_ 31
_CTRL = "@abcdefghijklmnopqrstuvwxyz[\\]^_"


def parse(keys: str) -> bytes:
    """docker's notation -> bytes; ``ValueError`` naming the key it cannot read."""
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out.append(ord(key) & 0xFF)
        elif key.startswith("ctrl-") and len(key) == 6 and key[5] in _CTRL:
            out.append(_CTRL.index(key[5]))
        elif key == "DEL":
            out.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


def for_attach(keys: str | None) -> bytes:
    """The sequence of an attach's ``detachKeys`` (empty: the default); docker's 400
    for one it cannot read."""
    if not keys:
        return DEFAULT
    try:
        return parse(keys)
    except ValueError:
        raise InvalidArgument(f"Invalid detach keys ({keys}) provided") from None


def for_exec(keys: str | None) -> bytes:
    """The same for an exec (moby's exec.go words it differently)."""
    if not keys:
        return DEFAULT
    try:
        return parse(keys)
    except ValueError:
        raise InvalidArgument(f"Invalid escape keys ({keys}) provided") from None


class EscapeProxy:
    """Client input in, what the container may see out, until the sequence is typed."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys or DEFAULT
        self.held = 0  # how many bytes of the sequence have been matched so far
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to pass on; sets ``detached`` once the whole sequence is read
        (bytes after it are dropped, as docker ends the stream there)."""
        out = bytearray()
        for b in data:
            if b == self.keys[self.held]:
                self.held += 1
                if self.held == len(self.keys):
                    self.detached = True
                    return bytes(out)
                continue
            if self.held:  # a broken-off partial match: the container gets it after all
                out += self.keys[:self.held]
                self.held = 0
                if b == self.keys[0]:
                    self.held = 1
                    continue
            out.append(b)
        return bytes(out)


__all__ = ["DEFAULT", "EscapeProxy", "for_attach", "for_exec", "parse"]
