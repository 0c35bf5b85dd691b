"""Disk usage of a directory tree (docker's SizeRw, volume sizes in system df)."""

from __future__ import annotations

import os


def tree_size(path: str) -> int:
    """Bytes of the files under ``path`` (symlinks not followed, vanishing files skipped)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total
