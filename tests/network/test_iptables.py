"""network/iptables.py: the rules as data, and the commands that add and delete
them, with a recording stand-in for the iptables command (no root, no kernel)."""

from __future__ import annotations

import pytest

from dockling.network.iptables import IPTables

P = "DLTEST"


class Recorder:
    """Stands in for IPTables._run: records each command; -C (check) answers
    whether the rule is there, -D deletes it (so the delete loops end)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.present: set[tuple[str, ...]] = set()

    def __call__(self, table: str, *args: str, check: bool = True) -> bool:
        self.calls.append((table, *args))
        op, chain, rule = args[0], args[1] if len(args) > 1 else "", args[2:]
        if op == "-C":
            return (table, chain, *rule) in self.present
        if op == "-A":
            self.present.add((table, chain, *rule))
        if op == "-I":
            self.present.add((table, chain, *rule[1:]))
        if op == "-D":
            if (table, chain, *rule) in self.present:
                self.present.remove((table, chain, *rule))
                return True
            return False
        return True


@pytest.fixture
def ipt(monkeypatch) -> tuple[IPTables, Recorder]:
    t = IPTables(P)
    t.enabled = True  # with or without an iptables binary here: nothing is run
    rec = Recorder()
    monkeypatch.setattr(t, "_run", rec)
    yield t, rec
    close = getattr(t, "close", None)
    if close:
        close()


def done(result) -> None:
    """add_*/remove_* may hand back a future (rules made off the event loop)."""
    if hasattr(result, "result"):
        result.result(timeout=10)


def test_network_rules_are_dockers():
    rules = IPTables(P)._network_rules("br0", "10.1.0.0/24", icc=True, masquerade=True,
                                       internal=False)
    assert rules == [
        ("filter", f"{P}-ISOLATION-1", ["-i", "br0", "!", "-o", "br0", "-j",
                                        f"{P}-ISOLATION-2"]),
        ("filter", f"{P}-ISOLATION-2", ["-o", "br0", "-j", "DROP"]),
        ("filter", f"{P}-FORWARD", ["-o", "br0", "-m", "conntrack", "--ctstate",
                                    "RELATED,ESTABLISHED", "-j", "ACCEPT"]),
        ("filter", f"{P}-FORWARD", ["-o", "br0", "-j", P]),
        ("filter", f"{P}-FORWARD", ["-i", "br0", "!", "-o", "br0", "-j", "ACCEPT"]),
        ("nat", f"{P}-POSTROUTING", ["-s", "10.1.0.0/24", "!", "-o", "br0", "-j",
                                     "MASQUERADE"]),
        ("nat", f"{P}-POSTROUTING", ["-o", "br0", "-m", "addrtype", "--src-type", "LOCAL",
                                     "-j", "MASQUERADE"]),
        ("filter", f"{P}-FORWARD", ["-i", "br0", "-o", "br0", "-j", "ACCEPT"]),
    ]


def test_network_rule_variants():
    t = IPTables(P)
    no_icc = t._network_rules("br0", "10.1.0.0/24", icc=False, masquerade=True, internal=False)
    assert no_icc[-1] == ("filter", f"{P}-FORWARD", ["-i", "br0", "-o", "br0", "-j", "DROP"])
    no_nat = t._network_rules("br0", "10.1.0.0/24", icc=True, masquerade=False,
                              internal=False)
    assert not any("-s" in rule for _, _, rule in no_nat)
    internal = t._network_rules("br0", "10.1.0.0/24", icc=True, masquerade=True,
                                internal=True)
    # internal: no way in or out of the bridge, no NAT; containers on it still talk
    assert internal == [
        ("filter", f"{P}-ISOLATION-1", ["-i", "br0", "!", "-o", "br0", "-j", "DROP"]),
        ("filter", f"{P}-ISOLATION-1", ["!", "-i", "br0", "-o", "br0", "-j", "DROP"]),
        ("filter", f"{P}-FORWARD", ["-i", "br0", "-o", "br0", "-j", "ACCEPT"]),
    ]


@pytest.mark.parametrize("host_ip, dest", [("", []), ("0.0.0.0", []),
                                           ("127.0.0.1", ["-d", "127.0.0.1"])])
def test_port_rules(host_ip, dest):
    rules = IPTables(P)._port_rules("br0", "tcp", host_ip, 8080, "10.1.0.2", 80)
    assert rules == [
        ("nat", P, [*dest, "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination",
                    "10.1.0.2:80"]),
        ("filter", P, ["-d", "10.1.0.2", "!", "-i", "br0", "-o", "br0", "-p", "tcp",
                       "--dport", "80", "-j", "ACCEPT"]),
        ("nat", f"{P}-POSTROUTING", ["-s", "10.1.0.2", "-d", "10.1.0.2", "-p", "tcp",
                                     "--dport", "80", "-j", "MASQUERADE"]),
    ]


def test_every_rule_is_in_our_chains():
    """Flushing our chains must be enough to remove everything we add."""
    t = IPTables(P)
    rules = t._network_rules("br0", "10.1.0.0/24", True, True, False) + t._network_rules(
        "br1", "10.2.0.0/24", False, False, True) + t._port_rules(
        "br0", "udp", "", 53, "10.1.0.2", 53)
    assert all(chain == P or chain.startswith(P + "-") for _, chain, _ in rules)


def test_add_then_remove_uses_the_same_words(ipt):
    t, rec = ipt
    done(t.add_network("br0", "10.1.0.0/24"))
    done(t.add_port("br0", "tcp", "", 8080, "10.1.0.2", 80))
    added = set(rec.present)
    assert len(added) == 8 + 3
    done(t.add_network("br0", "10.1.0.0/24"))  # again: checked first, nothing doubled
    assert [c[1] for c in rec.calls].count("-A") == 11
    done(t.remove_port("br0", "tcp", "", 8080, "10.1.0.2", 80))
    done(t.remove_network("br0", "10.1.0.0/24"))
    assert rec.present == set()


def test_setup_and_teardown(ipt):
    t, rec = ipt
    t.setup()
    made = [c for c in rec.calls if c[1] == "-N"]
    assert {(c[0], c[2]) for c in made} == {
        ("filter", f"{P}-FORWARD"), ("filter", f"{P}-ISOLATION-1"),
        ("filter", f"{P}-ISOLATION-2"), ("filter", P), ("nat", P), ("nat", f"{P}-POSTROUTING")}
    # each chain flushed: what a killed daemon left is gone
    assert {(c[0], c[2]) for c in rec.calls if c[1] == "-F"} == {(c[0], c[2]) for c in made}
    hooks = [c for c in rec.calls if c[1] == "-I"]
    assert ("filter", "-I", "FORWARD", "1", "-j", f"{P}-FORWARD") in hooks
    assert ("nat", "-I", "PREROUTING", "1", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
            P) in hooks
    assert ("nat", "-I", "OUTPUT", "1", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
            P) in hooks
    assert ("nat", "-I", "POSTROUTING", "1", "-j", f"{P}-POSTROUTING") in hooks
    assert all(c[2] in ("FORWARD", "PREROUTING", "OUTPUT", "POSTROUTING") or
               c[2] == P or c[2].startswith(P + "-") for c in rec.calls)
    rec.calls.clear()
    t.teardown()
    assert {(c[0], c[2]) for c in rec.calls if c[1] == "-X"} == {(c[0], c[2]) for c in made}
    assert not any(r[1] in ("FORWARD", "PREROUTING", "OUTPUT", "POSTROUTING")
                   for r in rec.present)  # unhooked


def test_disabled_runs_nothing(monkeypatch):
    t = IPTables(P, enabled=False)
    rec = Recorder()
    monkeypatch.setattr(t, "_run", rec)
    t.setup()
    done(t.add_network("br0", "10.1.0.0/24"))
    done(t.add_port("br0", "tcp", "", 8080, "10.1.0.2", 80))
    t.teardown()
    assert rec.calls == []
