"""Making images from archives: `docker import` (a root filesystem tar).

``--change`` takes Dockerfile instructions that only touch the config
(CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL,
ONBUILD), as docker's import does.
"""

from __future__ import annotations

import json
import shlex

from dockling.errors import InvalidArgument
from dockling.images.store import ImageStore, now_rfc3339

_CHANGE_OK = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "VOLUME", "WORKDIR",
              "STOPSIGNAL", "ONBUILD"}


def _exec_form(arg: str) -> list[str]:
    """JSON array (exec form) or a shell string run by /bin/sh -c."""
    s = arg.strip()
    if s.startswith("["):
        try:
            val = json.loads(s)
        except json.JSONDecodeError:
            val = None
        if isinstance(val, list) and all(isinstance(x, str) for x in val):
            return val
    return ["/bin/sh", "-c", s]


def _pairs(arg: str, what: str) -> list[tuple[str, str]]:
    """ENV/LABEL: `k=v k2="v 2"` or the legacy `k v`."""
    words = shlex.split(arg)
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise InvalidArgument(f"{what} requires two arguments")
        return [(words[0], arg.strip()[len(words[0]):].strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"{what} names can not be blank: {w!r}")
        out.append((k, v))
    return out


def apply_changes(config: dict, changes: list[str]) -> None:
    """Apply Dockerfile instructions to an image's container config in place."""
    for change in changes:
        instr, _, arg = change.strip().partition(" ")
        instr = instr.upper()
        if instr not in _CHANGE_OK:
            raise InvalidArgument(f"{instr} is not a valid change command")
        if instr == "CMD":
            config["Cmd"] = _exec_form(arg)
        elif instr == "ENTRYPOINT":
            config["Entrypoint"] = _exec_form(arg)
        elif instr == "ENV":
            env = config.setdefault("Env", [])
            for k, v in _pairs(arg, "ENV"):
                env[:] = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
        elif instr == "LABEL":
            config.setdefault("Labels", {}).update(dict(_pairs(arg, "LABEL")))
        elif instr == "EXPOSE":
            for p in arg.split():
                port = p if "/" in p else p + "/tcp"
                config.setdefault("ExposedPorts", {})[port] = {}
        elif instr == "USER":
            config["User"] = arg.strip()
        elif instr == "VOLUME":
            vols = _exec_form(arg) if arg.strip().startswith("[") else arg.split()
            for v in vols:
                config.setdefault("Volumes", {})[v] = {}
        elif instr == "WORKDIR":
            config["WorkingDir"] = arg.strip()
        elif instr == "STOPSIGNAL":
            config["StopSignal"] = arg.strip()
        elif instr == "ONBUILD":
            config.setdefault("OnBuild", []).append(arg.strip())


def import_rootfs(images: ImageStore, stream, changes: list[str], message: str = "",
                  source: str = "-") -> str:
    """`docker import`: one layer from a (compressed) tar, a config around it."""
    container_config: dict = {}
    apply_changes(container_config, changes)  # refuse bad changes before unpacking
    layer = images.layers.register(stream, None)
    created = now_rfc3339()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created": created, "comment": message or f"Imported from {source}"}],
    }
    return images.add(config)
