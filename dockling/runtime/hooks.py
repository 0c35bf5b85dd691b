"""OCI lifecycle hooks: run a program with the container state on stdin.

Hook errors abort create (prestart, createRuntime, createContainer,
startContainer) but only warn after start (poststart, poststop), as the
runtime-spec says.
"""

from __future__ import annotations

import json
import subprocess

from dockling.errors import InvalidArgument


def run(hooks, kind: str, state: dict) -> None:
    body = json.dumps(state).encode()
    for i, h in enumerate(hooks):
        args = h.args or [h.path]
        try:
            res = subprocess.run(args, executable=h.path, input=body, env=_env(h.env),
                                 capture_output=True, timeout=h.timeout or None, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise InvalidArgument(f"hooks.{kind}[{i}] ({h.path}): {err}") from err
        if res.returncode != 0:
            raise InvalidArgument(
                f"hooks.{kind}[{i}] ({h.path}) exited {res.returncode}: "
                f"{res.stderr.decode(errors='replace').strip()}"
            )


def run_warn(hooks, kind: str, state: dict, warn) -> None:
    try:
        run(hooks, kind, state)
    except InvalidArgument as err:
        warn(str(err))


def _env(env: list[str]) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in env if "=" in kv)
