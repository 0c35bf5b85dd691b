"""docker's -p/--publish and --expose specs, as the docker CLI reads them
(docker/go-connections nat.ParsePortSpec): ``[ip:][hostPort:]containerPort[/proto]``,
port ranges, IPv6 host addresses in brackets. Read by the CLI for run/create;
the engine takes the PortBindings the CLI built."""

from __future__ import annotations

from dockling.errors import InvalidArgument


def parse_spec(spec: str) -> list[tuple[str, dict]]:
    """docker CLI's -p: [ip:][hostPort:]containerPort[/proto] (ranges allowed) ->
    [("80/tcp", {"HostIp": "", "HostPort": "8080"})]."""
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    if rest.startswith("["):  # [::1]:80:80
        host_ip, _, rest = rest[1:].partition("]")
        rest = rest.lstrip(":")
        parts = [host_ip, *rest.split(":")]
    else:
        parts = rest.split(":")
    if len(parts) == 1:
        host_ip, host, ctr = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, (host, ctr) = "", parts
    elif len(parts) == 3:
        host_ip, host, ctr = parts
    else:
        raise InvalidArgument(f"invalid port format for --publish: {spec}")
    cports = _range(ctr, spec)
    hports = _range(host, spec) if host else []
    if hports and len(hports) != len(cports) and len(cports) != 1:
        raise InvalidArgument(f"invalid ranges specified for container and host Ports: "
                              f"{ctr} and {host}")
    out = []
    for i, cp in enumerate(cports):
        if not hports:
            hp = ""
        elif len(cports) == 1 and len(hports) > 1:
            hp = f"{hports[0]}-{hports[-1]}"  # any one port of the range
        else:
            hp = str(hports[i])
        out.append((f"{cp}/{proto}", {"HostIp": host_ip, "HostPort": hp}))
    return out


def _range(text: str, spec: str) -> list[int]:
    try:
        lo, _, hi = text.partition("-")
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {text}" if text else
                              f"no port specified: {spec}<empty>") from None
    if not (0 < a <= b <= 65535):
        raise InvalidArgument(f"invalid port range: {text}")
    return list(range(a, b + 1))
