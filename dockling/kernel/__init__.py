"""The kernel calls the engine makes, in one place for every package.

The runtime, images, volumes, network and containers all reach the kernel
through here, not through each other:

- ``syscalls``: mount, umount2, unshare, setns, pivot_root, prctl, capset
  (ctypes, errors as OSError naming the path or value) and their flags;
- ``openat2``: opening a path inside a root whatever its symlinks do;
- ``paths``: ``secure_join`` and the mount-point helpers built on it.
"""
