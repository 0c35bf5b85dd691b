"""docker's client config (~/.docker/config.json, or $DOCKER_CONFIG) and the credentials
it holds or names a helper for (docker-credential-NAME), as docker/cli's configfile
reads them. Its own module, with only the standard library: `build` reads it on
every run and must start fast."""

from __future__ import annotations

import os

from dockling.cli.main import UsageError
from dockling.client import wirejson


def config_path() -> str:
    d = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(d, "config.json")


def load_config() -> dict:
    try:
        with open(config_path()) as f:
            return wirejson.loads(f.read())
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise UsageError(f"loading config file {config_path()}: {err}") from err


def save_config(cfg: dict) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    import json  # for its indent: wirejson writes one line

    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(cfg, f, indent="\t")
    os.rename(tmp, path)


def helper(cfg: dict, key: str) -> str | None:
    """The credential helper that holds ``key``'s credentials, if any."""
    helpers = cfg.get("credHelpers") or {}
    return helpers.get(key) or cfg.get("credsStore")


def run_helper(name: str, action: str, data: str) -> str:
    import subprocess

    try:
        res = subprocess.run([f"docker-credential-{name}", action], input=data,
                             capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError:
        raise UsageError(f"error getting credentials - err: exec: \"docker-credential-{name}\":"
                         " executable file not found in $PATH, out: ``") from None
    if res.returncode:
        out = res.stdout.strip() or res.stderr.strip()
        if "credentials not found" in out.lower():
            return ""
        raise UsageError(f"error getting credentials - err: exit status {res.returncode}, "
                         f"out: `{out}`")
    return res.stdout


def credentials(key: str) -> dict:
    """{username, password, serveraddress} or {identitytoken...} for a registry key."""
    cfg = load_config()
    name = helper(cfg, key)
    if name:
        out = run_helper(name, "get", key)
        if not out:
            return {}
        doc = wirejson.loads(out)
        if doc.get("Username") == "<token>":
            return {"identitytoken": doc.get("Secret", ""), "serveraddress": key}
        return {"username": doc.get("Username", ""), "password": doc.get("Secret", ""),
                "serveraddress": key}
    entry = (cfg.get("auths") or {}).get(key) or {}
    if entry.get("auth"):
        import base64

        user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
        return {"username": user, "password": pw, "serveraddress": key}
    if entry.get("identitytoken"):
        return {"identitytoken": entry["identitytoken"], "serveraddress": key}
    return {}


def all_credentials() -> dict[str, dict]:
    """Every registry's credentials, keyed by registry (docker/cli configfile
    GetAllCredentials): what `build` sends for FROM's pulls. A registry whose
    helper fails is left out (docker warns and goes on)."""
    cfg = load_config()
    if cfg.get("credsStore"):
        # the default store lists what it holds (docker-credential-NAME list)
        listed = wirejson.loads(run_helper(cfg["credsStore"], "list", "") or "{}")
    else:
        listed = cfg.get("auths") or {}
    keys = list(listed) + [k for k in cfg.get("credHelpers") or {} if k not in listed]
    auths: dict[str, dict] = {}
    for key in keys:
        try:
            creds = credentials(key)
        except UsageError:
            continue
        if creds:
            auths[key] = creds
    return auths
