"""The embedded DNS server at 127.0.0.11, as docker gives containers on
user-defined networks.

The daemon opens a UDP and a TCP socket inside each such container's
network namespace (bound there, served here on the daemon's event loop).
Names of containers on a network the asker shares, their network aliases
and short IDs answer with their addresses; anything else is forwarded, from
the host's namespace, to the container's --dns servers or the host's.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from dockling import background
from dockling.network.netns import run_in

log = logging.getLogger("dockling.dns")

ADDRESS = "127.0.0.11"
TTL = 600


def host_resolvers(path: str = "/etc/resolv.conf") -> list[str]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts[:1] == ["nameserver"] and len(parts) > 1:
                    out.append(parts[1])
    except OSError:
        pass
    return out


def _open_sockets() -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((ADDRESS, 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((ADDRESS, 53))
    tcp.listen(64)
    for s in (udp, tcp):
        s.setblocking(False)
    return udp, tcp


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: Resolver) -> None:
        self.server = server
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        async def answer() -> None:
            reply = await self.server.answer(data)
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)
        background.spawn(answer(), "embedded DNS answer")


class Resolver:
    """One container's 127.0.0.11: ``lookup(name) -> [ip]`` says what we know."""

    def __init__(self, netns_path: str, lookup, upstreams: list[str]) -> None:
        self.netns_path = netns_path
        self.lookup = lookup
        self.upstreams = upstreams
        self.udp_transport = None
        self.tcp_server = None

    async def start(self) -> None:
        udp, tcp = run_in(self.netns_path, _open_sockets)
        loop = asyncio.get_running_loop()
        self.udp_transport, _ = await loop.create_datagram_endpoint(lambda: _UDP(self),
                                                                    sock=udp)
        self.tcp_server = await asyncio.start_server(self._tcp_client, sock=tcp)

    def close(self) -> None:
        if self.udp_transport is not None:
            self.udp_transport.close()
        if self.tcp_server is not None:
            self.tcp_server.close()

    async def _tcp_client(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                data = await reader.readexactly(int.from_bytes(head, "big"))
                reply = await self.answer(data, tcp=True)
                if reply is None:
                    break
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(self, data: bytes, tcp: bool = False) -> bytes | None:
        try:
            q = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if not q.question:
            return None
        question = q.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        found = self.lookup(name)
        if found is not None:
            resp = dns.message.make_response(q)
            resp.flags |= dns.flags.RA
            kind = {dns.rdatatype.A: ("A", "."), dns.rdatatype.AAAA: ("AAAA", ":")}.get(
                question.rdtype)
            addrs = [a for a in found if kind and kind[1] in a]
            if addrs:
                resp.answer.append(dns.rrset.from_text_list(
                    question.name, TTL, "IN", kind[0], addrs))
            return resp.to_wire()
        return await self._forward(data, q, tcp)

    async def _forward(self, data: bytes, q, tcp: bool) -> bytes | None:
        for server in self.upstreams:
            try:
                if tcp:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(server, 53), 2)
                    writer.write(len(data).to_bytes(2, "big") + data)
                    await writer.drain()
                    size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 3),
                                          "big")
                    reply = await asyncio.wait_for(reader.readexactly(size), 3)
                    writer.close()
                    return reply
                return await asyncio.wait_for(_udp_query(server, data), 3)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                continue
        resp = dns.message.make_response(q)
        resp.set_rcode(dns.rcode.SERVFAIL)
        return resp.to_wire()


async def _udp_query(server: str, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, reply: bytes, addr) -> None:
            if not done.done():
                done.set_result(reply)

        def error_received(self, exc) -> None:
            if not done.done():
                done.set_exception(exc)

    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=(server, 53),
                                                       family=family)
    try:
        transport.sendto(data)
        return await done
    finally:
        transport.close()
