"""Restart policies: which exits restart a container, and after what delay.

docker's rules: ``no`` never; ``always`` after every exit; ``unless-stopped``
after every exit not caused by a user's stop/kill; ``on-failure[:N]`` after a
non-zero exit, at most N times. Delays double from 100 ms up to a minute and
start over once a container has run for 10 s. At daemon start, ``always``
containers are started again, and ``unless-stopped`` ones a user did not stop.

The rules are pure functions; ``Scheduler`` applies them to a manager's
containers: a restart waits for its delay as ``restarting`` (a user's stop
or rm calls it off), then starts the container again by policy.
"""

from __future__ import annotations

import asyncio
import logging

from dockling import background
from dockling.containers.model import Container, RestartPolicy
from dockling.containers.state import Status, set_status
from dockling.errors import InvalidArgument, NotFound

log = logging.getLogger("dockling.containers")

POLICIES = ("no", "always", "on-failure", "unless-stopped")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def validate(policy: RestartPolicy) -> None:
    name = policy.Name or "no"
    count = policy.MaximumRetryCount
    if name not in POLICIES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of "
                              "'no', 'always', 'on-failure', or 'unless-stopped'")
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")


def should_restart(policy: RestartPolicy, exit_code: int, restart_count: int,
                   manually_stopped: bool) -> bool:
    name = policy.Name or "no"
    if manually_stopped or name == "no":
        return False
    if name == "on-failure":
        limit = policy.MaximumRetryCount
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return True


def start_at_boot(policy: RestartPolicy, exit_code: int, restart_count: int,
                  manually_stopped: bool) -> bool:
    """At daemon start ``always`` wins even over a user's stop (docker's rule)."""
    if policy.Name == "always":
        return True
    return should_restart(policy, exit_code, restart_count, manually_stopped)


def next_delay(previous: float | None, ran_for: float) -> float:
    if previous is None or ran_for >= RESET_AFTER:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)


class Scheduler:
    """The pending restarts of the manager ``m``'s containers, and their back-off."""

    def __init__(self, m) -> None:
        self.m = m
        # Restarts waiting for their back-off delay, and each container's last delay.
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.backoff: dict[str, float] = {}

    def after_exit(self, c: Container, ran_for: float) -> None:
        """The policy restarts ``c``, which ran ``ran_for`` seconds: schedule it."""
        self.schedule(c, next_delay(self.backoff.get(c.Id), ran_for))

    def schedule(self, c: Container, delay: float) -> None:
        cid = c.Id
        self.cancel(cid)
        self.backoff[cid] = delay
        set_status(c.State, Status.RESTARTING)
        self.m.records.save(c)
        log.debug("restarting %s in %.1f s (policy %s)", cid[:12], delay,
                  c.HostConfig.RestartPolicy.Name)
        self.pending[cid] = asyncio.get_running_loop().call_later(
            delay, lambda: background.spawn(self._restart(cid), f"restart {cid[:12]}"))

    def cancel(self, cid: str) -> None:
        handle = self.pending.pop(cid, None)
        if handle is not None:
            handle.cancel()

    def forget_backoff(self, cid: str) -> None:
        """A user's start or a removal: the next policy restart waits the first delay."""
        self.backoff.pop(cid, None)

    async def _restart(self, cid: str) -> None:
        m = self.m
        self.pending.pop(cid, None)
        try:
            c = m.records.get(cid)
        except NotFound:
            return
        if c.State.Status != Status.RESTARTING.value:
            return
        set_status(c.State, Status.EXITED)
        c.RestartCount += 1
        m.records.save(c)
        try:
            await m.lifecycle.start(cid, by_policy=True)
        except Exception as err:  # noqa: BLE001 - a failed restart is recorded, not raised
            log.warning("restart of %s failed: %s", cid[:12], err)
            c = m.records.get(cid)
            if should_restart(c.HostConfig.RestartPolicy, c.State.ExitCode, c.RestartCount,
                              c._ManuallyStopped):
                self.schedule(c, next_delay(self.backoff.get(cid), 0))
            else:
                m.monitor.wake_waiters(cid, c.State.ExitCode, restarting=False)

    def start_at_boot(self) -> None:
        """Daemon start: restart what the policies say, finish pending restarts."""
        for c in self.m.records.all():
            st = c.State
            pending = st.Status == Status.RESTARTING.value
            if pending or (st.Status == Status.EXITED.value and start_at_boot(
                    c.HostConfig.RestartPolicy, st.ExitCode, c.RestartCount,
                    c._ManuallyStopped)):
                self.schedule(c, 0)
