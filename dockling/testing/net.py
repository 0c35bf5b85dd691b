"""Network settings and clean-up for a test daemon: its own bridge, subnets and
iptables chains, so daemons can run side by side and leave nothing behind."""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import uuid

from dockling.network import bridge, model
from dockling.network.iptables import IPTables
from dockling.network.store import bridge_of


def free_port(host: str = "0.0.0.0") -> int:
    """A TCP port nobody listens on now (for test servers and published ports)."""
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def daemon_config() -> dict:
    """daemon.json keys: a bridge, a /24 for it and a /20 block for new networks."""
    tag = uuid.uuid4().hex[:6]
    a, k = random.randint(100, 199), random.randint(0, 15)
    block = f"10.{a}.{16 * k}.0/20"
    return {"bridge": f"dlt{tag}", "bip": f"10.{a}.{16 * k}.1/24",
            "default-address-pools": [{"base": block, "size": 24}],
            "iptables-chain-prefix": f"DLT{tag.upper()}"}


def cleanup(root: str, cfg: dict) -> None:
    """Delete the daemon's bridges (from its database) and its iptables chains."""
    names = {cfg["bridge"]}
    db = os.path.join(root, "dockling.db")
    if os.path.exists(db):
        conn = sqlite3.connect(db)
        try:
            for (doc,) in conn.execute("SELECT doc FROM networks"):
                net = model.decode(doc)
                if net.Driver == "bridge":
                    names.add(bridge_of(net))
        except sqlite3.Error:
            pass
        finally:
            conn.close()
    for name in names:
        if bridge.link_exists(name):
            bridge.delete_link(name)
    IPTables(cfg["iptables-chain-prefix"]).teardown()
