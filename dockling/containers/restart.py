"""Restart policies: which exits restart a container, and after what delay.

docker's rules: ``no`` never; ``always`` after every exit; ``unless-stopped``
after every exit not caused by a user's stop/kill; ``on-failure[:N]`` after a
non-zero exit, at most N times. Delays double from 100 ms up to a minute and
start over once a container has run for 10 s. At daemon start, ``always``
containers are started again, and ``unless-stopped`` ones a user did not stop.
"""

from __future__ import annotations

from dockling.errors import InvalidArgument

POLICIES = ("no", "always", "on-failure", "unless-stopped")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def validate(policy: dict) -> None:
    name = policy.get("Name") or "no"
    count = policy.get("MaximumRetryCount") or 0
    if name not in POLICIES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of "
                              "'no', 'always', 'on-failure', or 'unless-stopped'")
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")


def should_restart(policy: dict, exit_code: int, restart_count: int,
                   manually_stopped: bool) -> bool:
    name = policy.get("Name") or "no"
    if manually_stopped or name == "no":
        return False
    if name == "on-failure":
        limit = policy.get("MaximumRetryCount") or 0
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return True


def start_at_boot(policy: dict, exit_code: int, restart_count: int,
                  manually_stopped: bool) -> bool:
    """At daemon start ``always`` wins even over a user's stop (docker's rule)."""
    if (policy.get("Name") or "no") == "always":
        return True
    return should_restart(policy, exit_code, restart_count, manually_stopped)


def next_delay(previous: float | None, ran_for: float) -> float:
    if previous is None or ran_for >= RESET_AFTER:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
