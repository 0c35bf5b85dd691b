"""cgroup v2 (unified): one directory, controllers enabled top-down.

Exercised here only on its file layout (tests point ``root`` at a temp dir
shaped like /sys/fs/cgroup), because this machine's kernel runs hybrid v1.
"""

from __future__ import annotations

import os

from dockling.errors import InvalidArgument
from dockling.runtime.cgroups import (
    pids_in,
    read,
    read_int,
    read_keyed,
    remove_tree,
    values,
    write,
)

_WANTED = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb")


class Manager:
    version = 2

    def __init__(self, path: str, root: str = "/sys/fs/cgroup") -> None:
        self.path = path
        self.root = root
        self.dir = root + path

    def bind_sources(self) -> list[tuple[str, str]]:
        return [("", self.dir)]

    def to_dict(self) -> dict:
        return {"version": 2, "path": self.path, "root": self.root}

    def stats(self) -> dict:
        """Counters for `docker stats`, in a shape shared with v1."""
        cpu = read_keyed(os.path.join(self.dir, "cpu.stat"))
        io = []
        try:
            for line in read(os.path.join(self.dir, "io.stat")).splitlines():
                dev, *fields = line.split()
                major, minor = dev.split(":")
                kv = dict(f.split("=", 1) for f in fields if "=" in f)
                for key, op in (("rbytes", "read"), ("wbytes", "write")):
                    io.append((int(major), int(minor), op, int(kv.get(key, 0))))
        except OSError:
            pass
        return {
            "cpu_total_ns": cpu.get("usage_usec", 0) * 1000,
            "cpu_percpu_ns": [],
            "cpu_user_ns": cpu.get("user_usec", 0) * 1000,
            "cpu_kernel_ns": cpu.get("system_usec", 0) * 1000,
            "mem_usage": read_int(os.path.join(self.dir, "memory.current")),
            "mem_max_usage": read_int(os.path.join(self.dir, "memory.peak")),
            "mem_limit": read_int(os.path.join(self.dir, "memory.max"), 0),
            "mem_stat": read_keyed(os.path.join(self.dir, "memory.stat")),
            "mem_failcnt": 0,
            "pids_current": read_int(os.path.join(self.dir, "pids.current")),
            "pids_limit": read_int(os.path.join(self.dir, "pids.max")),
            "io": io,
        }

    def create(self, resources) -> None:
        created = []
        cur = self.root
        parts = [p for p in self.path.split("/") if p]
        try:
            for part in parts:
                self._enable_controllers(cur)
                cur = os.path.join(cur, part)
                if not os.path.isdir(cur):
                    os.mkdir(cur)
                    created.append(cur)
            if resources is not None:
                self.update(resources)
        except BaseException:
            for d in reversed(created):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise

    def _enable_controllers(self, d: str) -> None:
        try:
            available = read(os.path.join(d, "cgroup.controllers")).split()
        except FileNotFoundError:
            return
        want = [c for c in _WANTED if c in available]
        if want:
            write(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in want))

    def _set(self, name: str, value) -> None:
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            raise InvalidArgument(
                f"cgroup v2 file {name} is missing in {self.dir}: controller not enabled"
            )
        write(path, value)

    def add(self, pid: int) -> None:
        write(os.path.join(self.dir, "cgroup.procs"), pid)

    def join(self) -> None:
        """Move the calling process in. (v1's thread-only write has no v2 twin outside
        threaded subtrees: clone3's CLONE_INTO_CGROUP would be that.)"""
        self.add(os.getpid())

    def update(self, r) -> None:
        if r.cpu is not None:
            c = r.cpu
            if c.shares:
                self._set("cpu.weight", values.shares_to_weight(c.shares))
            if c.quota or c.period:
                self._set("cpu.max", values.cpu_max(c.quota, c.period))
            if c.idle is not None:
                self._set("cpu.idle", c.idle)
            if c.cpus:
                self._set("cpuset.cpus", c.cpus)
            if c.mems:
                self._set("cpuset.mems", c.mems)
        if r.memory is not None:
            m = r.memory
            try:
                swap = values.v2_swap(m.limit, m.swap if m.swap != 0 else None)
            except ValueError as err:
                raise InvalidArgument(f"linux.resources.memory.swap: {err}") from err
            if m.limit:
                self._set("memory.max", values.limit_str(m.limit))
            if swap is not None:
                self._set("memory.swap.max", swap)
            if m.reservation:
                self._set("memory.low", values.limit_str(m.reservation))
            if m.disable_oom_killer:
                raise InvalidArgument(
                    "linux.resources.memory.disableOOMKiller: not supported by cgroup v2"
                )
        if r.pids is not None:
            self._set("pids.max", values.pids_max(r.pids.limit))
        if r.block_io is not None:
            b = r.block_io
            if b.weight:
                self._set("io.weight", f"default {values.blkio_to_io_weight(b.weight)}")
            for key, devs in (("rbps", b.throttle_read_bps_device),
                              ("wbps", b.throttle_write_bps_device),
                              ("riops", b.throttle_read_iops_device),
                              ("wiops", b.throttle_write_iops_device)):
                for dev in devs:
                    self._set("io.max", f"{dev.major}:{dev.minor} {key}={dev.rate}")
        for key, value in r.unified.items():
            if "/" in key or key.startswith("."):
                raise InvalidArgument(f"linux.resources.unified: bad key {key!r}")
            self._set(key, value)
        for h in r.hugepage_limits:
            try:
                size = values.hugepage_size(h.page_size)
            except ValueError as err:
                raise InvalidArgument(f"linux.resources.hugepageLimits: {err}") from err
            self._set(f"hugetlb.{size}.max", values.limit_str(h.limit))
        if r.network is not None and (r.network.class_id is not None or r.network.priorities):
            # runtime-spec: a value the runtime cannot apply is an error.
            raise InvalidArgument(
                "linux.resources.network: net_cls and net_prio do not exist under cgroup v2")
        # Device rules (r.devices) need an eBPF program under v2, which is not
        # written yet: they are not enforced on a v2 host (said in the notes).

    def freeze(self) -> None:
        self._set("cgroup.freeze", 1)

    def thaw(self) -> None:
        self._set("cgroup.freeze", 0)

    def frozen(self) -> bool:
        try:
            return read(os.path.join(self.dir, "cgroup.freeze")) == "1"
        except FileNotFoundError:
            return False

    def pids(self) -> list[int]:
        return pids_in(self.dir)

    def destroy(self) -> None:
        remove_tree(self.dir)
