"""The daemon's directories, and the modes that keep other host users out.

docker's answer to CVE-2021-41091 (unprivileged users running setuid
binaries found in container layers) and to secrets on disk, followed here:

    <root>                     0711  (others may pass, not list)
    <root>/containers          0710  each container: 0700; config.json and logs 0600
                                     (they hold the environment: -e secrets)
    <root>/layers              0710  image layers, setuid binaries included
    <root>/volumes             0700
    <root>/blobs, tmp, builder 0700
    <root>/dockling.db(-wal, -shm) 0600
    <exec-root>                0711  (the API socket may live there)
    <exec-root>/containers, runtime*, netns  0700  (runtime state.json holds the config)

The daemon runs with umask 077, so what it makes from now on is private
unless it says otherwise (what containers read: hosts, resolv.conf,
hostname 0644, the writable layer's root and the directories made inside a
container 0755). ``secure`` makes the top of the tree so at every start,
and tightens what an older dockling (umask 022) left: each container's
directory, config.json and logs.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("dockling.daemon")

UMASK = 0o077

_ROOT_DIRS = {"containers": 0o710, "layers": 0o710, "volumes": 0o700, "blobs": 0o700,
              "tmp": 0o700, "builder": 0o700}
_EXEC_DIRS = {"containers": 0o700, "runtime": 0o700, "netns": 0o700}


def _chmod(path: str, mode: int) -> None:
    try:
        os.chmod(path, mode, follow_symlinks=False)
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("cannot chmod %s to %o: %s", path, mode, err)


def _dir(path: str, mode: int) -> None:
    os.makedirs(path, mode, exist_ok=True)
    _chmod(path, mode)


def secure(root: str, exec_root: str) -> None:
    """Make the layout (or fix an existing one): see the module docstring."""
    _dir(root, 0o711)
    for sub, mode in _ROOT_DIRS.items():
        _dir(os.path.join(root, sub), mode)
    _dir(exec_root, 0o711)
    for sub, mode in _EXEC_DIRS.items():
        _dir(os.path.join(exec_root, sub), mode)
    for name in os.listdir(exec_root):  # --runtime runc keeps its state in runtime-runc/
        if name.startswith("runtime-"):
            _chmod(os.path.join(exec_root, name), 0o700)
    containers = os.path.join(root, "containers")
    for cid in os.listdir(containers):
        d = os.path.join(containers, cid)
        if cid.startswith(".") or not os.path.isdir(d):
            continue
        _chmod(d, 0o700)
        for f in os.listdir(d):
            if f == "config.json" or "-json.log" in f:
                _chmod(os.path.join(d, f), 0o600)
    run = os.path.join(exec_root, "containers")
    for cid in os.listdir(run):
        if not cid.startswith("."):
            _chmod(os.path.join(run, cid), 0o700)
