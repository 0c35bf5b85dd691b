"""Registry commands: pull, push, login, logout (the config file and credential
helpers they use: dockerconfig.py).

Credentials live in ~/.docker/config.json (``auths``: base64 "user:password"
per registry, Docker Hub under https://index.docker.io/v1/), or in a
credential helper (``credsStore``, ``credHelpers``: docker-credential-NAME
get|store|erase). Pull and push send them as X-Registry-Auth.
"""

from __future__ import annotations

import sys

from dockling.cli.dockerconfig import config_path, credentials, load_config, run_helper, save_config
from dockling.cli.dockerconfig import helper as cred_helper
from dockling.cli.main import ExitCode, UsageError
from dockling.client import wirejson
from dockling.client.http import Client

# References (re), base64, getpass and the progress view load in the commands that
# use them: images.py registers these commands, and `images` or `rmi` must not pay
# for them (~15 ms).


def register(sub, image_sub) -> None:
    for parent in (sub, image_sub):
        sp = parent.add_parser("pull")
        sp.add_argument("-a", "--all-tags", action="store_true")
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.add_argument("--platform")
        sp.add_argument("name")
        sp.set_defaults(func=cmd_pull)
        sp = parent.add_parser("push")
        sp.add_argument("-a", "--all-tags", action="store_true")
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.add_argument("name")
        sp.set_defaults(func=cmd_push)
    sp = sub.add_parser("search")
    sp.add_argument("--limit", type=int, default=25)
    sp.add_argument("-f", "--filter", action="append", default=[])
    sp.add_argument("--no-trunc", action="store_true")
    sp.add_argument("--format")
    sp.add_argument("term")
    sp.set_defaults(func=cmd_search)
    sp = sub.add_parser("login")
    sp.add_argument("-u", "--username")
    sp.add_argument("-p", "--password")
    sp.add_argument("--password-stdin", action="store_true")
    sp.add_argument("server", nargs="?")
    sp.set_defaults(func=cmd_login)
    sp = sub.add_parser("logout")
    sp.add_argument("server", nargs="?")
    sp.set_defaults(func=cmd_logout)


def auth_header(ref) -> dict[str, str]:
    """X-Registry-Auth for a formats.reference.Reference."""
    import base64

    from dockling.formats.reference import auth_key

    creds = credentials(auth_key(ref.domain))
    if not creds:
        return {}
    raw = base64.urlsafe_b64encode(wirejson.dumps(creds).encode()).decode()
    return {"X-Registry-Auth": raw}


# -- commands -------------------------------------------------------------------------------

def stream_progress(resp, out, quiet: bool = False) -> None:
    """Show a JSON progress stream; an error message in it exits 1 (docker's way)."""
    from dockling.cli.system import json_lines
    from dockling.formats.progress import Printer

    printer = Printer(out, quiet=quiet)
    try:
        for m in json_lines(resp):
            err = printer.show(m)
            if err:
                print(err, file=sys.stderr)
                raise ExitCode(1)
    finally:
        resp.close()


def pull(cli: Client, name: str, out, quiet: bool = False, all_tags: bool = False,
         platform: str | None = None) -> str:
    from dockling.formats import reference

    ref = reference.parse(name, default_tag=not all_tags)
    if all_tags and (ref.tag or ref.digest):
        raise UsageError("tag can't be used with --all-tags/-a")
    params = {"fromImage": ref.name}
    if ref.digest:
        params["fromImage"] = f"{ref.name}@{ref.digest}"
    else:
        params["tag"] = "" if all_tags else ref.tag
    if platform:
        params["platform"] = platform
    resp = cli.open("POST", "/images/create", params, headers=auth_header(ref))
    stream_progress(resp, out, quiet)
    return ref.name if all_tags else str(ref)


def cmd_pull(cli: Client, a) -> int:
    from dockling.formats import reference

    ref = reference.parse(a.name, default_tag=False)
    if not ref.tag and not ref.digest and not a.all_tags and not a.quiet:
        print("Using default tag: latest")
    done = pull(cli, a.name, sys.stdout, a.quiet, a.all_tags, a.platform)
    print(done)
    return 0


def cmd_push(cli: Client, a) -> int:
    from dockling.formats import reference

    ref = reference.parse(a.name, default_tag=not a.all_tags)
    if not ref.tag and not a.all_tags:
        ref = reference.parse(a.name)
    if not a.all_tags and not a.quiet and ":" not in a.name.rsplit("/", 1)[-1]:
        print("Using default tag: latest")
    params = {} if a.all_tags else {"tag": ref.tag}
    resp = cli.open("POST", f"/images/{ref.name}/push", params, headers={
        "X-Registry-Auth": auth_header(ref).get("X-Registry-Auth", "e30=")})
    stream_progress(resp, sys.stdout, a.quiet)
    if a.quiet:
        print(str(ref) if not a.all_tags else ref.name)
    return 0


def cmd_search(cli: Client, a) -> int:
    from dockling.cli.common import filters
    from dockling.cli.format import print_formatted, table

    results = cli.get("/images/search", term=a.term, limit=a.limit,
                      filters=wirejson.dumps(filters(a.filter)))
    rows = []
    for r in results:
        desc = r["description"].replace("\n", " ")
        if not a.no_trunc and len(desc) > 45:
            desc = desc[:44] + "…"
        rows.append({"Name": r["name"], "Description": desc, "StarCount": str(r["star_count"]),
                     "IsOfficial": "[OK]" if r["is_official"] else "",
                     "IsAutomated": "[OK]" if r["is_automated"] else ""})
    if a.format and a.format != "table":
        print_formatted(a.format, rows, {"Name": "NAME", "Description": "DESCRIPTION",
                                         "StarCount": "STARS", "IsOfficial": "OFFICIAL",
                                         "IsAutomated": "AUTOMATED"}, "registry.searchContext")
        return 0
    print(table(rows, [("NAME", "Name"), ("DESCRIPTION", "Description"),
                       ("STARS", "StarCount"), ("OFFICIAL", "IsOfficial")]))
    return 0


def cmd_login(cli: Client, a) -> int:
    import base64
    import getpass

    from dockling.formats.reference import HUB_AUTH_KEY, auth_key, server_domain

    key = auth_key(server_domain(a.server or HUB_AUTH_KEY))
    if a.password and a.password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    user = a.username
    password = a.password
    if a.password_stdin:
        if not user:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\n").rstrip("\r")
    if (not user or not password) and not sys.stdin.isatty():
        # docker/cli's ConfigureAuth: no prompt without a terminal
        print("Error: Cannot perform an interactive login from a non TTY device",
              file=sys.stderr)
        raise ExitCode(1)
    if not user:
        user = input("Username: ").strip()
    if not password:
        password = getpass.getpass("Password: ")
    if not password:
        print("Error: Password Required", file=sys.stderr)
        raise ExitCode(1)
    if a.password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)
    out = cli.post("/auth", {"username": user, "password": password, "serveraddress": key})
    cfg = load_config()
    helper = cred_helper(cfg, key)
    if out.get("IdentityToken"):
        entry = {"identitytoken": out["IdentityToken"]}
        secret = ("<token>", out["IdentityToken"])
    else:
        entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        secret = (user, password)
    if helper:
        run_helper(helper, "store", wirejson.dumps({"ServerURL": key, "Username": secret[0],
                                                     "Secret": secret[1]}))
    else:
        cfg.setdefault("auths", {})[key] = entry
        save_config(cfg)
        print(f"WARNING! Your password will be stored unencrypted in {config_path()}.\n"
              "Configure a credential helper to remove this warning. See\n"
              "https://docs.docker.com/engine/reference/commandline/login/#credential-stores\n",
              file=sys.stderr)
    print(out.get("Status") or "Login Succeeded")
    return 0


def cmd_logout(cli: Client, a) -> int:
    from dockling.formats.reference import HUB_AUTH_KEY, auth_key, server_domain

    server = a.server or HUB_AUTH_KEY
    key = auth_key(server_domain(server))
    cfg = load_config()
    helper = cred_helper(cfg, key)
    if helper:
        run_helper(helper, "erase", key)
    elif key not in (cfg.get("auths") or {}):
        print(f"Not logged in to {server}")
        return 0
    print(f"Removing login credentials for {server}")
    (cfg.get("auths") or {}).pop(key, None)
    save_config(cfg)
    return 0
