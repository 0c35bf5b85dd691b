"""A container's lifecycle: the states of ``State.Status`` and the guards that raise
docker's 409/304 errors naming the state, and the STATUS column of `docker ps`."""

from __future__ import annotations

import datetime
import enum

from dockling import clock
from dockling.containers.model import State
from dockling.errors import Conflict, NotModified
from dockling.units import human_duration


class Status(str, enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"

    def check_start(self) -> None:
        if self in (Status.RUNNING, Status.PAUSED, Status.RESTARTING):
            raise NotModified("container already started")
        if self is Status.REMOVING:
            raise Conflict("container is marked for removal and cannot be started")

    def check_remove(self, name: str, force: bool) -> None:
        if force:
            return
        if self is Status.PAUSED:
            raise Conflict(f"cannot remove container \"{name}\": container is paused and must "
                           "be unpaused first")
        if self in (Status.RUNNING, Status.RESTARTING):
            raise Conflict(f"cannot remove container \"{name}\": container is running: stop the "
                           "container before removing or force remove")

    def check_pause(self, cid: str) -> None:
        if self is Status.PAUSED:
            raise Conflict(f"Container {cid} is already paused")
        if self is not Status.RUNNING:
            raise Conflict(f"Container {cid} is not running")

    def check_running(self, cid: str) -> None:
        if self is Status.PAUSED:
            raise Conflict(f"Container {cid} is paused, unpause the container before exec")
        if self is not Status.RUNNING:
            raise Conflict(f"Container {cid} is not running")


def status_text(state: State) -> str:
    """The STATUS column of `docker ps`."""
    t = datetime.datetime.now(datetime.UTC)
    st = state.Status
    if st in ("running", "paused"):
        started = clock.parse(state.StartedAt) or t
        text = f"Up {human_duration((t - started).total_seconds())}"
        if st == "paused":
            text += " (Paused)"
        health = state.Health.Status if state.Health else None
        if health and health != "none":
            text += f" ({'health: starting' if health == 'starting' else health})"
        return text
    if st == "restarting":
        fin = clock.parse(state.FinishedAt) or t
        return (f"Restarting ({state.ExitCode}) "
                f"{human_duration((t - fin).total_seconds())} ago")
    if st == "exited":
        fin = clock.parse(state.FinishedAt)
        if fin is None:
            return f"Exited ({state.ExitCode})"
        return f"Exited ({state.ExitCode}) {human_duration((t - fin).total_seconds())} ago"
    if st == "removing":
        return "Removal In Progress"
    if st == "dead":
        return "Dead"
    return "Created"


def set_status(state: State, status: Status) -> None:
    state.Status = status.value
    # docker: a container waiting to be restarted still counts as running
    state.Running = status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)
    state.Paused = status is Status.PAUSED
    state.Restarting = status is Status.RESTARTING
    state.Dead = status is Status.DEAD
