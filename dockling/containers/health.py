"""Health checks: a probe command run inside the container on an interval.

The check is the container's Healthcheck over the image's (field by field);
["NONE"] turns it off. The result goes to State.Health like docker's:
``starting`` until the first success, ``healthy`` after one, ``unhealthy``
after Retries failures in a row; failures in the start period do not count.
Each change of status is a ``health_status: <status>`` event.
"""

from __future__ import annotations

import asyncio
import logging
import time

from dockling import background, clock
from dockling.containers.model import Health, HealthcheckResult, HealthConfig

log = logging.getLogger("dockling.health")

SECOND = 10**9
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartPeriod": 0,
            "StartInterval": 5 * SECOND, "Retries": 3}
MAX_LOG = 5
MAX_OUTPUT = 4096


def effective(config: HealthConfig | None,
              image: HealthConfig | None) -> HealthConfig | None:
    """The check a container runs: each field its own if set, else its image's,
    else docker's default; None when there is none or its Test is ["NONE"]."""
    def pick(field: str):
        # getattr on None: a config or image without a Healthcheck sets nothing
        return getattr(config, field, None) or getattr(image, field, None)

    test = pick("Test") or []
    if not test or test[0] == "NONE":
        return None
    return HealthConfig(Test=list(test),
                        **{key: pick(key) or val for key, val in DEFAULTS.items()})


def probe_argv(test: list[str]) -> list[str]:
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:])
    return list(test)  # the legacy form without a kind: a plain command


def go_duration(seconds: float) -> str:
    """Go's time.Duration String() for the common cases: 300ms, 30s, 1m30s."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:g}s"
    if minutes or hours:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


def initial() -> Health:
    return Health(Status="starting", FailingStreak=0, Log=[])


def record(health: Health, check: HealthConfig, started: float,
           result: HealthcheckResult) -> str | None:
    """Fold one probe result into State.Health; the new status if it changed."""
    before = health.Status
    health.Log = [*(health.Log or []), result][-MAX_LOG:]
    if result.ExitCode == 0:
        health.FailingStreak = 0
        health.Status = "healthy"
    elif time.time() - started < check.StartPeriod / SECOND and before == "starting":
        pass  # docker: failures in the start period are not counted
    else:
        health.FailingStreak += 1
        if health.FailingStreak >= check.Retries:
            health.Status = "unhealthy"
    return health.Status if health.Status != before else None


class Monitor:
    """Runs the probes of one running container until cancelled."""

    def __init__(self, manager, cid: str, check: HealthConfig) -> None:
        self.m = manager
        self.cid = cid
        self.check = check
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = background.spawn(self._loop(), f"health check of {self.cid[:12]}")

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _loop(self) -> None:
        started = time.time()
        check = self.check
        argv = probe_argv(check.Test or [])
        timeout = check.Timeout / SECOND
        while True:
            in_start = time.time() - started < check.StartPeriod / SECOND
            interval = check.StartInterval if in_start else check.Interval
            await asyncio.sleep(interval / SECOND)
            begin = clock.now()
            try:
                code, output = await self.m.probe(self.cid, argv, timeout)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - a probe that cannot run fails
                code, output = -1, str(err)
            result = HealthcheckResult(Start=begin, End=clock.now(), ExitCode=code,
                                       Output=output[:MAX_OUTPUT])
            if not self.m.health_result(self.cid, self.check, started, result):
                return
