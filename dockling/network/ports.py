"""Published ports: host port choice, and holding the host port (the -p/-P
specs are read by formats/ports.py).

The kernel carries published traffic (DNAT, see iptables.py); no proxy
copies bytes. To keep docker's behaviour when a port is taken, the daemon
binds each published host port itself (a bound socket that never accepts),
so a second container or a host program cannot take it meanwhile, and a
port already in use fails ``run`` with docker's message.
"""

from __future__ import annotations

import errno
import socket

from dockling.errors import Conflict, InvalidArgument


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


class Reservations:
    """Host ports held by this daemon: (proto, ip, port) -> (socket, container id)."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, str, int], tuple[socket.socket, str]] = {}
        self._next = ephemeral_range()[0]

    def take(self, owner: str, proto: str, host_ip: str, host_port: str) -> int:
        ip = host_ip or "0.0.0.0"
        if host_port and "-" not in host_port:
            return self._bind(owner, proto, ip, int(host_port), explicit=True)
        if host_port:
            lo, hi = (int(x) for x in host_port.split("-"))
        else:
            lo, hi = ephemeral_range()
        span = hi - lo + 1
        start = self._next if lo <= self._next <= hi else lo
        for i in range(span):
            port = lo + (start - lo + i) % span
            try:
                got = self._bind(owner, proto, ip, port, explicit=False)
            except Conflict:
                continue
            self._next = port + 1
            return got
        raise Conflict(f"Bind for {ip}:{host_port or 'any'} failed: port is already allocated")

    def _bind(self, owner: str, proto: str, ip: str, port: int, explicit: bool) -> int:
        for (p, i, n), (_, other) in self.held.items():
            if p == proto and n == port and (i == ip or "0.0.0.0" in (i, ip)):
                raise Conflict(f"Bind for {ip}:{port} failed: port is already allocated")
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        s = socket.socket(family, kind)
        try:
            s.bind((ip, port))
        except OSError as err:
            s.close()
            if err.errno == errno.EADDRINUSE:
                raise Conflict(
                    f"failed to bind port {ip}:{port}/{proto}: Error starting userland proxy: "
                    f"listen {proto}4 {ip}:{port}: bind: address already in use") from None
            raise InvalidArgument(f"failed to bind port {ip}:{port}/{proto}: {err}") from None
        self.held[(proto, ip, port)] = (s, owner)
        return port

    def release(self, owner: str) -> None:
        for key, (s, who) in list(self.held.items()):
            if who == owner:
                s.close()
                del self.held[key]
