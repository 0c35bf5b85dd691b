"""A container's /etc/hosts and /etc/resolv.conf, written the way docker does."""

from __future__ import annotations

from dockling.network.dns import ADDRESS

HOSTS_HEAD = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
              "ff02::2\tip6-allrouters\n")


def hosts(own: list[tuple[str, str]], extra: list[tuple[str, str]]) -> str:
    """docker's etchosts: the fixed head, --add-host and link lines, then own address
    lines (ip, names)."""
    out = HOSTS_HEAD
    for ip, names in extra:
        out += f"{ip}\t{names}\n"
    for ip, names in own:
        out += f"{ip}\t{names}\n"
    return out


def resolv_conf(host_text: str, *, embedded: bool, dns: list[str], search: list[str],
                options: list[str], host_network: bool = False) -> str:
    """The host's resolv.conf, or --dns/--dns-search/--dns-option in its place.

    On a private network the host's loopback resolvers cannot be reached and
    are left out; on a user-defined network the embedded server is the only
    nameserver (it forwards to the others), with docker's ndots:0.
    """
    lines = host_text.splitlines()
    servers = [l.split()[1] for l in lines if l.split()[:1] == ["nameserver"]
               and len(l.split()) > 1]
    host_search = next((l.split()[1:] for l in lines if l.split()[:1] in (["search"],
                                                                         ["domain"])), [])
    host_opts = next((l.split()[1:] for l in lines if l.split()[:1] == ["options"]), [])
    if host_network and not (dns or search or options):
        return host_text if host_text.endswith("\n") else host_text + "\n"
    if embedded:
        servers = [ADDRESS]
        opts = options or [o for o in host_opts if not o.startswith("ndots")] + ["ndots:0"]
    else:
        servers = dns or [s for s in servers if host_network or not (
            s.startswith("127.") or s == "::1")]
        opts = options or host_opts
    srch = search or host_search
    out = [f"nameserver {s}" for s in servers]
    if srch and srch != ["."]:
        out.append("search " + " ".join(srch))
    if opts:
        out.append("options " + " ".join(opts))
    return "\n".join(out) + "\n"
