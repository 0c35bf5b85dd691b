"""cgroup v1: one directory per mounted hierarchy (cpu, memory, pids, ...).

Hierarchies are found in /proc/self/mountinfo, so a machine that mounts
cpu and cpuacct apart (this one) or together (cpu,cpuacct) both work.
"""

from __future__ import annotations

import errno
import os
import time

from dockling.errors import InternalError, InvalidArgument
from dockling.runtime.cgroups import (
    pids_in,
    read,
    read_int,
    read_keyed,
    remove_tree,
    values,
    write,
)

_KNOWN = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
          "net_cls", "net_prio", "hugetlb", "perf_event", "rdma", "misc", "name=systemd"}


def find_mounts() -> dict[str, str]:
    """{subsystem: mountpoint} of the v1 hierarchies this process sees."""
    found: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup":
                continue
            for opt in fields[sep + 3].split(","):
                if opt in _KNOWN:
                    found.setdefault(opt, fields[4])
    return found


class Manager:
    version = 1

    def __init__(self, path: str, mounts: dict[str, str] | None = None) -> None:
        self.path = path
        self.mounts = mounts if mounts is not None else find_mounts()

    # -- paths ---------------------------------------------------------------
    def dir(self, subsystem: str) -> str | None:
        mp = self.mounts.get(subsystem)
        return None if mp is None else mp + self.path

    def _dirs(self) -> list[str]:
        return sorted({mp + self.path for mp in self.mounts.values()})

    def bind_sources(self) -> list[tuple[str, str]]:
        """(name under /sys/fs/cgroup, host dir) for the container's cgroup mount."""
        return sorted({(os.path.basename(mp), mp + self.path) for mp in self.mounts.values()})

    def to_dict(self) -> dict:
        return {"version": 1, "path": self.path, "mounts": self.mounts}

    def stats(self) -> dict:
        """Counters for `docker stats`, in a shape shared with v2."""
        acct = self.dir("cpuacct") or ""
        mem = self.dir("memory") or ""
        pids = self.dir("pids") or ""
        blkio = self.dir("blkio") or ""
        tick = 10**9 // os.sysconf("SC_CLK_TCK")
        cpu = read_keyed(os.path.join(acct, "cpuacct.stat"))
        try:
            percpu = [int(x) for x in read(os.path.join(acct, "cpuacct.usage_percpu")).split()]
        except OSError:
            percpu = []
        io = []
        try:
            for line in read(os.path.join(blkio, "blkio.throttle.io_service_bytes")).splitlines():
                parts = line.split()
                if len(parts) == 3 and ":" in parts[0]:
                    major, minor = parts[0].split(":")
                    io.append((int(major), int(minor), parts[1].lower(), int(parts[2])))
        except OSError:
            pass
        return {
            "cpu_total_ns": read_int(os.path.join(acct, "cpuacct.usage")),
            "cpu_percpu_ns": percpu,
            "cpu_user_ns": cpu.get("user", 0) * tick,
            "cpu_kernel_ns": cpu.get("system", 0) * tick,
            "mem_usage": read_int(os.path.join(mem, "memory.usage_in_bytes")),
            "mem_max_usage": read_int(os.path.join(mem, "memory.max_usage_in_bytes")),
            "mem_limit": read_int(os.path.join(mem, "memory.limit_in_bytes")),
            "mem_stat": read_keyed(os.path.join(mem, "memory.stat")),
            "mem_failcnt": read_int(os.path.join(mem, "memory.failcnt")),
            "pids_current": read_int(os.path.join(pids, "pids.current")),
            "pids_limit": read_int(os.path.join(pids, "pids.max")),
            "io": io,
        }

    # -- lifecycle -----------------------------------------------------------
    def create(self, resources) -> None:
        created: list[str] = []
        try:
            for mp in sorted(set(self.mounts.values())):
                created.extend(_makedirs(mp, self.path, cpuset=mp == self.mounts.get("cpuset")))
            if resources is not None:
                self.update(resources, initial=True)
        except BaseException:
            for d in sorted(created, reverse=True):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise

    def add(self, pid: int) -> None:
        for d in self._dirs():
            write(os.path.join(d, "cgroup.procs"), pid)

    def join(self) -> None:
        """Move the calling process in; it must have one thread (a fresh fork).

        "0" to tasks moves the caller's thread without the kernel's threadgroup
        lock (cgroup_procs_write_start): cgroup.procs takes it for writing, which
        waits out an RCU grace period when none is under way: 10-20 ms of every
        start and exec here, for 0.5 ms this way."""
        for d in self._dirs():
            write(os.path.join(d, "tasks"), 0)

    def update(self, r, initial: bool = False) -> None:
        if r.cpu is not None:
            self._cpu(r.cpu)
        if r.memory is not None:
            self._memory(r.memory)
        if r.pids is not None and self.dir("pids"):
            write(os.path.join(self.dir("pids"), "pids.max"), values.pids_max(r.pids.limit))
        if r.block_io is not None:
            self._blkio(r.block_io)
        if r.devices and self.dir("devices"):
            d = self.dir("devices")
            for rule in r.devices:
                name = "devices.allow" if rule.allow else "devices.deny"
                write(os.path.join(d, name), values.device_rule(rule))
        self._hugetlb(r.hugepage_limits)
        self._network(r.network)
        if r.unified:
            raise InvalidArgument(
                "linux.resources.unified: cgroup v2 keys cannot be set on a cgroup v1 host"
            )

    def _hugetlb(self, limits) -> None:
        if not limits:
            return
        d = self.dir("hugetlb")
        if not d:
            # runtime-spec: a value the runtime cannot apply is an error (runc's too).
            raise InvalidArgument(
                "linux.resources.hugepageLimits: the hugetlb controller is not mounted")
        for h in limits:
            write(f"{d}/hugetlb.{_page_size(h.page_size)}.limit_in_bytes", h.limit)

    def _network(self, n) -> None:
        if n is None:
            return
        for field, ctl, wanted in (("classID", "net_cls", n.class_id is not None),
                                   ("priorities", "net_prio", bool(n.priorities))):
            if wanted and not self.dir(ctl):
                raise InvalidArgument(
                    f"linux.resources.network.{field}: the {ctl} controller is not mounted")
        if n.class_id is not None:
            write(f"{self.dir('net_cls')}/net_cls.classid", n.class_id)
        for p in n.priorities:
            write(f"{self.dir('net_prio')}/net_prio.ifpriomap", f"{p.name} {p.priority}")

    def _cpu(self, c) -> None:
        cpu = self.dir("cpu")
        if cpu:
            if c.shares:
                write(f"{cpu}/cpu.shares", c.shares)
            if c.period:
                write(f"{cpu}/cpu.cfs_period_us", c.period)
            if c.quota is not None and c.quota != 0:
                write(f"{cpu}/cpu.cfs_quota_us", c.quota)
            if c.realtime_period:
                write(f"{cpu}/cpu.rt_period_us", c.realtime_period)
            if c.realtime_runtime:
                write(f"{cpu}/cpu.rt_runtime_us", c.realtime_runtime)
            if c.idle is not None and os.path.exists(f"{cpu}/cpu.idle"):
                write(f"{cpu}/cpu.idle", c.idle)
        elif c.shares or c.quota or c.period:
            raise InvalidArgument("linux.resources.cpu: the cpu cgroup controller is not mounted")
        cpuset = self.dir("cpuset")
        if (c.cpus or c.mems) and not cpuset:
            raise InvalidArgument("linux.resources.cpu: the cpuset controller is not mounted")
        if c.cpus:
            write(f"{cpuset}/cpuset.cpus", c.cpus)
        if c.mems:
            write(f"{cpuset}/cpuset.mems", c.mems)

    def _memory(self, m) -> None:
        mem = self.dir("memory")
        if not mem:
            raise InvalidArgument("linux.resources.memory: the memory controller is not mounted")
        memsw = f"{mem}/memory.memsw.limit_in_bytes"
        has_swap = os.path.exists(memsw)
        if m.swap is not None and m.swap != 0 and not has_swap:
            raise InvalidArgument(
                "linux.resources.memory.swap: this kernel does not account swap "
                "(memory.memsw.limit_in_bytes is missing)"
            )
        limit = None if m.limit in (None, 0) else values.limit_str(m.limit)
        swap = None if m.swap in (None, 0) else values.limit_str(m.swap)
        if limit is not None and swap is not None:
            # The kernel refuses memsw < limit at every moment, so the order
            # depends on whether the new values grow or shrink the group.
            try:
                write(f"{mem}/memory.limit_in_bytes", limit.replace("max", "-1"))
                write(memsw, swap.replace("max", "-1"))
            except InvalidArgument:
                write(memsw, swap.replace("max", "-1"))
                write(f"{mem}/memory.limit_in_bytes", limit.replace("max", "-1"))
        elif limit is not None:
            write(f"{mem}/memory.limit_in_bytes", limit.replace("max", "-1"))
            if has_swap and m.swap is None:
                # docker's default: swap = 2x memory when only -m is given is
                # the engine's business; the runtime leaves memsw unlimited.
                pass
        elif swap is not None:
            write(memsw, swap.replace("max", "-1"))
        if m.reservation:
            write(f"{mem}/memory.soft_limit_in_bytes", values.limit_str(m.reservation)
                  .replace("max", "-1"))
        if m.swappiness is not None and 0 <= m.swappiness <= 100:
            write(f"{mem}/memory.swappiness", m.swappiness)
        if m.disable_oom_killer:
            write(f"{mem}/memory.oom_control", 1)

    def _blkio(self, b) -> None:
        d = self.dir("blkio")
        if not d:
            raise InvalidArgument("linux.resources.blockIO: the blkio controller is not mounted")
        if b.weight:
            if not os.path.exists(f"{d}/blkio.weight"):
                raise InvalidArgument(
                    "linux.resources.blockIO.weight: this kernel has no blkio.weight "
                    "(no CFQ/BFQ I/O scheduler)"
                )
            write(f"{d}/blkio.weight", b.weight)
        for dev in b.weight_device:
            if dev.weight:
                write(f"{d}/blkio.weight_device", f"{dev.major}:{dev.minor} {dev.weight}")
        for name, devs in (
            ("blkio.throttle.read_bps_device", b.throttle_read_bps_device),
            ("blkio.throttle.write_bps_device", b.throttle_write_bps_device),
            ("blkio.throttle.read_iops_device", b.throttle_read_iops_device),
            ("blkio.throttle.write_iops_device", b.throttle_write_iops_device),
        ):
            for dev in devs:
                write(f"{d}/{name}", f"{dev.major}:{dev.minor} {dev.rate}")

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def _freezer(self, state: str) -> None:
        d = self.dir("freezer")
        if not d:
            raise InvalidArgument("the freezer cgroup controller is not mounted")
        write(f"{d}/freezer.state", state)
        # FREEZING is transient; wait until the kernel reports the final state.
        for _ in range(1000):
            if read(f"{d}/freezer.state") == state:
                return
            os.sched_yield()

    def frozen(self) -> bool:
        d = self.dir("freezer")
        if not d:
            return False
        try:
            return read(f"{d}/freezer.state") != "THAWED"
        except FileNotFoundError:
            return False

    def pids(self) -> list[int]:
        for d in self._dirs():
            if os.path.isdir(d):
                return pids_in(d)
        return []

    def destroy(self) -> None:
        for d in self._dirs():
            _rmdir_retry(d)


def _rmdir_retry(d: str, tries: int = 100) -> None:
    """Exited tasks leave a group a moment after they are reaped: retry EBUSY."""
    for _ in range(tries):
        try:
            remove_tree(d)
            return
        except OSError as err:
            if err.errno != errno.EBUSY:
                raise
            time.sleep(0.01)
    raise InternalError(f"cannot remove cgroup {d}: it still holds processes")


def _page_size(size: str) -> str:
    try:
        return values.hugepage_size(size)
    except ValueError as err:
        raise InvalidArgument(f"linux.resources.hugepageLimits: {err}") from err


def _makedirs(mount: str, rel: str, cpuset: bool) -> list[str]:
    """mkdir -p below a hierarchy root; a new cpuset dir inherits its parent's
    cpus and mems (otherwise it is empty and no task may join it)."""
    created = []
    cur = mount
    for part in [p for p in rel.split("/") if p]:
        parent, cur = cur, os.path.join(cur, part)
        try:
            os.mkdir(cur)
            created.append(cur)
        except FileExistsError:  # there already, or made by a create running beside us
            pass
        if cpuset:  # whoever made it: a cpuset dir left empty takes no task
            for f in ("cpuset.cpus", "cpuset.mems"):
                if not read(os.path.join(cur, f)).strip():
                    write(os.path.join(cur, f), read(os.path.join(parent, f)))
    return created
