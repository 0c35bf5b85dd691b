"""Container networks: docker's null, host and bridge drivers.

store.py (network records, default networks), ipam.py (subnets and
addresses), netns.py (a named network namespace per container), bridge.py
(the Linux bridge and veth pairs, through netlink), iptables.py (NAT,
forwarding and isolation in our own chains), ports.py (host ports held for -p/-P;
the specs are formats/ports.py), dns.py (the
embedded resolver at 127.0.0.11), etc.py (hosts and resolv.conf) and
manager.py, which wires them to a container's life.
"""
