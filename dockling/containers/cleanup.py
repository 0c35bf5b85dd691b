"""A removed container's directories, deleted after its record is gone (in a worker
thread: docker's "removal in progress", never shown)."""

from __future__ import annotations

import logging
import os

from dockling import background
from dockling.images.layers import unmount
from dockling.runtime import rootfs

log = logging.getLogger("dockling.containers")


def remove_dirs(container_dir: str, run_dir: str, unknown: bool = False) -> None:
    """A removed container's directories, in a worker thread: its overlay
    unmounted, then each tree renamed aside and deleted. ``unknown``: what a
    crash left (``Monitor.remove_orphans``), where anything may still be
    mounted below: all of it is detached, and a tree with a mount still below
    it is left alone, as deleting through a bind would reach into a volume or
    the host. (A removal knows its own mounts: the subpath binds went before
    the record; reading the mount table for each of many removals would not
    pay.)"""
    if unknown:
        for d in (container_dir, run_dir):
            if os.path.isdir(d):
                _detach_all_below(d)
    else:
        merged = os.path.join(container_dir, "merged")
        if os.path.ismount(merged):
            unmount(merged)
    for d in (container_dir, run_dir):
        if unknown and os.path.isdir(d) and rootfs.mounts_below(d):
            log.error("not removing %s: still mounted below it: %s", d,
                      ", ".join(mp for _, mp in rootfs.mounts_below(d)))
            continue
        background.remove_tree(d)


def _detach_all_below(d: str) -> None:
    try:
        rootfs.unmount_below(d)
    except OSError as err:
        log.warning("cannot unmount below %s: %s", d, err)
