"""``run --trace``: the kernel calls that made a container, as a tree or as JSON.

The records come from the daemon (GET /containers/{id}/trace, dockling's
own route) or from dockling-runc's own trace file; each is one call of the
kernel seam (``dockling.kernel.record``): {"ts", "pid", "role", "call",
"args", "ms", "error"?}. This module only formats them (standard library
only: the CLI imports no engine module).
"""

from __future__ import annotations

import json


def render(records: list[dict], as_json: bool = False) -> str:
    if as_json:
        return json.dumps(records, indent=2)
    lines = [f"kernel trace: {len(records)} calls, "
             f"{sum(r.get('ms', 0) for r in records):.1f} ms in the kernel"]
    group = None
    for r in _collapse(records):
        key = (r.get("role"), r.get("pid"))
        if key != group:
            group = key
            lines.append(f"{r.get('role')} (pid {r.get('pid')})")
        text = f"  ├─ {line(r)}  ({r.get('ms', 0):.2f} ms)"
        if r.get("error"):
            text += f"  ! {r['error']}"
        lines.append(text)
    return "\n".join(lines)


def complete(records: list[dict]) -> bool:
    """Has the container's program been exec'd? (the init writes that last)"""
    return any(r.get("call") == "execve" for r in records)


def _collapse(records: list[dict]) -> list[dict]:
    """One line for a run of bounding-set drops (one prctl per capability)."""
    out: list[dict] = []
    for r in records:
        a = r.get("args") or {}
        prev = out[-1] if out else None
        if (r.get("call") == "prctl" and a.get("option") == "PR_CAPBSET_DROP" and prev
                and prev.get("call") == "capbset" and prev.get("pid") == r.get("pid")):
            prev["args"]["caps"].append(a.get("cap"))
            prev["ms"] = prev.get("ms", 0) + r.get("ms", 0)
            continue
        if r.get("call") == "prctl" and a.get("option") == "PR_CAPBSET_DROP":
            r = {**r, "call": "capbset", "args": {"caps": [a.get("cap")]}}
        out.append(r)
    return out


def line(r: dict) -> str:
    """One call as a person reads it."""
    call, a = r.get("call"), r.get("args") or {}
    if call == "mount":
        flags = a.get("flags", "")
        what = ("remount" if "MS_REMOUNT" in flags else "bind" if "MS_BIND" in flags
                else a.get("fstype") or "propagation")
        text = f"mount {what} {a.get('source') or '-'} -> {a.get('target')} [{a.get('flags')}]"
        return text + (f" {a['data']}" if a.get("data") else "")
    if call == "umount":
        return f"umount {a.get('target')} [{a.get('flags')}]"
    if call == "unshare":
        return f"unshare {a.get('flags')}"
    if call == "setns":
        return f"setns {a.get('flags')} {a.get('ns', '')}".rstrip()
    if call == "pivot_root":
        return f"pivot_root {a.get('new_root')} {a.get('put_old')}"
    if call == "write":
        return f"write {a.get('path')} = {a.get('value')}"
    if call == "capbset":
        caps = ", ".join(map(str, a["caps"]))
        return f"bounding set: drop {len(a['caps'])} capabilities: {caps}"
    if call == "capset":
        return (f"capset: keep effective {_caps(a.get('effective'))}, permitted "
                f"{_caps(a.get('permitted'))}, inheritable {_caps(a.get('inheritable'))}")
    if call == "prctl":
        extra = a.get("cap", a.get("arg", ""))
        return f"prctl {a.get('option')} {extra}".rstrip()
    if call == "seccomp":
        return f"seccomp filter: {a.get('instructions')} BPF instructions ({a.get('bytes')} bytes)"
    if call == "netlink":
        rest = " ".join(f"{k}={v}" for k, v in a.items() if k != "op")
        return f"netlink {a.get('op')} {rest}".rstrip()
    if call == "iptables":
        return "iptables " + " ".join(a.get("argv", [])[1:])
    if call == "execve":
        return f"execve {a.get('path')} {json.dumps(a.get('argv'))}"
    if call in ("sethostname", "setdomainname"):
        return f"{call} {a.get('name')}"
    return f"{call} {json.dumps(a)}"


def _caps(names) -> str:
    return ",".join(names) if names else "(none)"
