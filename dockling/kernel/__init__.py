"""The kernel calls the engine makes, in one place for every package.

The runtime, images, volumes, network and containers all reach the kernel
through here, not through each other:

- ``base``: ``Kernel``, the one interface (mount, umount, pivot_root,
  unshare, setns, prctl, capset, seccomp, execve, cgroup file writes,
  netlink, iptables), the real implementation, and ``current()``/``using()``
  to pick the kernel in use (youki's ``Syscall`` trait);
- ``linux``: the raw ctypes calls behind the real one;
- ``record``: ``Recorder`` (each call into a trace file, for ``--trace``)
  and ``Fake`` (root-free tests);
- ``syscalls``: the calls as functions, with their flags, for callers;
- ``openat2``: opening a path inside a root whatever its symlinks do;
- ``paths``: ``secure_join`` and the mount-point helpers built on it;
- ``caps``: capability names (kernel ABI).
"""

from dockling.kernel.base import Kernel, current, install, using

__all__ = ["Kernel", "current", "install", "using"]
