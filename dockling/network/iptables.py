"""NAT, forwarding and isolation rules in chains of our own, like docker's.

All rules live in chains named after the daemon's prefix (DOCKLING by
default; a test daemon picks its own), hooked once into the built-in
chains, so flushing ours never touches anyone else's rules:

    filter FORWARD     -> P-FORWARD -> P-ISOLATION-1 -> P-ISOLATION-2
                                     -> P (published ports)
    nat PREROUTING/OUTPUT (to a local address) -> P (DNAT of published ports)
    nat POSTROUTING    -> P-POSTROUTING (masquerade)

Rules are made by one function per kind, so adding and deleting use the
same words. The ``iptables`` command (nft backend here) is the interface.

Each ``iptables`` run is a process (~5 ms, more while the xtables lock is
held): the rule changes of networks and published ports run on one thread
of their own, in the order they were asked for, never on the event loop.
Those methods return a ``concurrent.futures.Future``: the caller awaits it
(``asyncio.wrap_future``) when it needs the rules in place (a container's
start), or lets it go (a container's exit: a failure is logged), and
``idle()`` waits for everything asked so far (an API call that must return
with the rules gone, as docker's do). ``setup`` and ``teardown`` run at
daemon start and in tests, synchronously.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import shutil
import threading

from dockling.errors import InternalError
from dockling.kernel import syscalls

log = logging.getLogger("dockling.network")


class IPTables:
    def __init__(self, prefix: str = "DOCKLING", enabled: bool = True) -> None:
        self.p = prefix
        self.enabled = enabled and shutil.which("iptables") is not None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._last: concurrent.futures.Future | None = None  # the last change asked
        self._lock = threading.Lock()

    # -- the rules' thread ---------------------------------------------------------------
    def _submit(self, fn, *args) -> concurrent.futures.Future:
        if not self.enabled:
            done: concurrent.futures.Future = concurrent.futures.Future()
            done.set_result(None)
            return done
        if self._worker is None:
            self._worker = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="iptables")
        # the caller's context goes along: the kernel in use (a trace) is the caller's
        with self._lock:  # asked from the loop and from plumbing threads: _last is the last
            fut = self._worker.submit(contextvars.copy_context().run, fn, *args)
            self._last = fut
        return fut

    @staticmethod
    def forget(fut: concurrent.futures.Future, what: str) -> None:
        """Nobody waits for these rules: log a failure."""
        def done(f: concurrent.futures.Future) -> None:
            if not f.cancelled() and f.exception() is not None:
                log.warning("%s: %s", what, f.exception())
        fut.add_done_callback(done)

    async def idle(self) -> None:
        """Wait until the rule changes asked for so far are made: the last one asked
        is done (one thread takes them in order). None pending: no hop to the
        thread (a stop's or rm's answer without ports waited ~0.5-2 ms for it)."""
        last = self._last
        if last is not None and not last.done():
            await asyncio.wrap_future(self._submit(lambda: None))

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    # -- plumbing -------------------------------------------------------------------
    def _run(self, table: str, *args: str, check: bool = True) -> bool:
        res = syscalls.iptables(["iptables", "-w", "-t", table, *args])
        if res.returncode and check:
            raise InternalError(f"iptables -t {table} {' '.join(args)}: {res.stderr.strip()}")
        return res.returncode == 0

    def _ensure(self, table: str, chain: str, rule: list[str], first: bool = False) -> None:
        if not self._run(table, "-C", chain, *rule, check=False):
            if first:
                self._run(table, "-I", chain, "1", *rule)
            else:
                self._run(table, "-A", chain, *rule)

    def _delete(self, table: str, chain: str, rule: list[str]) -> None:
        while self._run(table, "-D", chain, *rule, check=False):
            pass

    def _chains(self) -> list[tuple[str, str, str, list[str]]]:
        """(table, our chain, built-in chain, match of the jump) — None: no jump."""
        p = self.p
        return [
            ("filter", f"{p}-FORWARD", "FORWARD", []),
            ("filter", f"{p}-ISOLATION-1", "", []),
            ("filter", f"{p}-ISOLATION-2", "", []),
            ("filter", p, "", []),
            ("nat", p, "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL"]),
            ("nat", p, "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL"]),
            ("nat", f"{p}-POSTROUTING", "POSTROUTING", []),
        ]

    # -- daemon start / teardown --------------------------------------------------------
    def setup(self) -> None:
        """Our chains, empty, hooked in (what a killed daemon left is flushed)."""
        if not self.enabled:
            return
        for table, chain, _, _ in self._chains():
            self._run(table, "-N", chain, check=False)
            self._run(table, "-F", chain)
        for table, chain, builtin, match in self._chains():
            if builtin:
                self._ensure(table, builtin, [*match, "-j", chain], first=True)
        self._run("filter", "-A", f"{self.p}-FORWARD", "-j", f"{self.p}-ISOLATION-1")

    def teardown(self) -> None:
        """Unhook and delete every chain of this prefix."""
        if not self.enabled:
            return
        for table, chain, builtin, match in self._chains():
            if builtin:
                self._delete(table, builtin, [*match, "-j", chain])
        for table, chain, _, _ in self._chains():
            self._run(table, "-F", chain, check=False)
        for table, chain, _, _ in self._chains():
            self._run(table, "-X", chain, check=False)

    # -- networks -------------------------------------------------------------------------
    def _network_rules(self, bridge: str, subnet: str, icc: bool, masquerade: bool,
                       internal: bool) -> list[tuple[str, str, list[str]]]:
        p = self.p
        if internal:
            rules = [
                ("filter", f"{p}-ISOLATION-1", ["-i", bridge, "!", "-o", bridge, "-j", "DROP"]),
                ("filter", f"{p}-ISOLATION-1", ["!", "-i", bridge, "-o", bridge, "-j", "DROP"]),
            ]
        else:
            rules = [
                ("filter", f"{p}-ISOLATION-1", ["-i", bridge, "!", "-o", bridge, "-j",
                                                f"{p}-ISOLATION-2"]),
                ("filter", f"{p}-ISOLATION-2", ["-o", bridge, "-j", "DROP"]),
                ("filter", f"{p}-FORWARD", ["-o", bridge, "-m", "conntrack", "--ctstate",
                                            "RELATED,ESTABLISHED", "-j", "ACCEPT"]),
                ("filter", f"{p}-FORWARD", ["-o", bridge, "-j", p]),
                ("filter", f"{p}-FORWARD", ["-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"]),
            ]
            if masquerade:
                rules.append(("nat", f"{p}-POSTROUTING", ["-s", subnet, "!", "-o", bridge, "-j",
                                                          "MASQUERADE"]))
            # the host's own 127.0.0.1 reaching a published port (route_localnet)
            rules.append(("nat", f"{p}-POSTROUTING", ["-o", bridge, "-m", "addrtype",
                                                      "--src-type", "LOCAL", "-j",
                                                      "MASQUERADE"]))
        rules.append(("filter", f"{p}-FORWARD", ["-i", bridge, "-o", bridge, "-j",
                                                 "ACCEPT" if icc else "DROP"]))
        return rules

    def add_network(self, bridge: str, subnet: str, icc: bool = True, masquerade: bool = True,
                    internal: bool = False) -> concurrent.futures.Future:
        rules = self._network_rules(bridge, subnet, icc, masquerade, internal)
        return self._submit(self._ensure_all, rules)

    def remove_network(self, bridge: str, subnet: str, icc: bool = True,
                       masquerade: bool = True, internal: bool = False
                       ) -> concurrent.futures.Future:
        rules = self._network_rules(bridge, subnet, icc, masquerade, internal)
        return self._submit(self._delete_all, rules)

    def _ensure_all(self, rules: list[tuple[str, str, list[str]]]) -> None:
        for table, chain, rule in rules:
            self._ensure(table, chain, rule)

    def _delete_all(self, rules: list[tuple[str, str, list[str]]]) -> None:
        for table, chain, rule in rules:
            self._delete(table, chain, rule)

    # -- published ports ---------------------------------------------------------------------
    def _port_rules(self, bridge: str, proto: str, host_ip: str, host_port: int,
                    ip: str, port: int) -> list[tuple[str, str, list[str]]]:
        p = self.p
        dest = ["-d", host_ip] if host_ip not in ("", "0.0.0.0") else []
        return [
            ("nat", p, [*dest, "-p", proto, "--dport", str(host_port), "-j", "DNAT",
                        "--to-destination", f"{ip}:{port}"]),
            ("filter", p, ["-d", ip, "!", "-i", bridge, "-o", bridge, "-p", proto, "--dport",
                           str(port), "-j", "ACCEPT"]),
            # a container reaching its own published port through the host (hairpin)
            ("nat", f"{p}-POSTROUTING", ["-s", ip, "-d", ip, "-p", proto, "--dport", str(port),
                                         "-j", "MASQUERADE"]),
        ]

    def add_port(self, bridge: str, proto: str, host_ip: str, host_port: int, ip: str,
                 port: int) -> concurrent.futures.Future:
        rules = self._port_rules(bridge, proto, host_ip, host_port, ip, port)
        return self._submit(self._ensure_all, rules)

    def remove_port(self, bridge: str, proto: str, host_ip: str, host_port: int, ip: str,
                    port: int) -> concurrent.futures.Future:
        rules = self._port_rules(bridge, proto, host_ip, host_port, ip, port)
        return self._submit(self._delete_all, rules)
