"""The cluster store: what several dockling hosts share (overlay networks).

``config`` reads daemon.json's cluster-store, cluster-store-opts and
cluster-advertise; ``etcd`` is the client of etcd's v3 JSON gateway. The
overlay network driver (``dockling.network.overlay``) is their one user.
"""

from dockling.cluster.config import ClusterConfig, parse_config
from dockling.cluster.etcd import KV, Etcd, StoreError, StoreUnavailable

__all__ = ["KV", "ClusterConfig", "Etcd", "StoreError", "StoreUnavailable", "parse_config"]
