"""Filters shared by the list and prune operations of every object kind.

docker's ``label`` and ``label!`` filters (moby's ``filters.Args.MatchKVList``):
``label=k`` needs the key, ``label=k=v`` the key with that value; every value
given must hold (AND). ``label!=k`` / ``label!=k=v`` refuse what ``label`` would
accept, value by value. Which keys an operation accepts is its own choice
(``ps`` and ``images`` take ``label`` only; the prunes also ``label!``): callers
pass the filters they accept.
"""

from __future__ import annotations


def labels_match(labels: dict, filters: dict[str, list[str]]) -> bool:
    """True when ``labels`` pass the ``label`` and ``label!`` values in ``filters``."""
    for v in filters.get("label") or []:
        if not _has(labels, v):
            return False
    return not any(_has(labels, v) for v in filters.get("label!") or [])


def _has(labels: dict, wanted: str) -> bool:
    key, eq, val = wanted.partition("=")
    return key in labels and (not eq or labels[key] == val)
