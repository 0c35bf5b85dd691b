"""Image commands: images, rmi, tag, import, history, save, load, image prune/inspect/ls."""

from __future__ import annotations

import sys
import time

from dockling.cli.common import filters as common_filters
from dockling.cli.common import inspect, refuse_terminal, save_stream
from dockling.cli.format import ago, human_size, print_formatted, table
from dockling.cli.main import UsageError
from dockling.client import wirejson as json  # json's own import is ~5 ms (re)
from dockling.client.http import APIError, Client

IMAGE_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG",
                 "Digest": "DIGEST", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                 "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "SIZE",
                 "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}


def register(sub) -> None:
    for name in ("images", "image ls"):
        if " " in name:
            continue
        sp = sub.add_parser(name)
        _images_args(sp)
    img = sub.add_parser("image")
    isub = img.add_subparsers(dest="image_cmd")
    _images_args(isub.add_parser("ls"))
    _images_args(isub.add_parser("list"))
    for parent in (sub, isub):
        if parent is sub:
            sp = parent.add_parser("rmi")
        else:
            sp = parent.add_parser("rm", aliases=("rmi", "remove"))
        sp.add_argument("-f", "--force", action="store_true")
        sp.add_argument("--no-prune", action="store_true")
        sp.add_argument("images", nargs="+")
        sp.set_defaults(func=cmd_rmi)
        sp = parent.add_parser("tag")
        sp.add_argument("source")
        sp.add_argument("target")
        sp.set_defaults(func=cmd_tag)
        sp = parent.add_parser("import")
        sp.add_argument("-c", "--change", action="append", default=[])
        sp.add_argument("-m", "--message", default="")
        sp.add_argument("file")
        sp.add_argument("reference", nargs="?")
        sp.set_defaults(func=cmd_import)
        sp = parent.add_parser("history")
        sp.add_argument("-H", "--human", action="store_true", default=True)
        sp.add_argument("--no-trunc", action="store_true")
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.add_argument("--format")
        sp.add_argument("image")
        sp.set_defaults(func=cmd_history)
    for parent in (sub, isub):
        sp = parent.add_parser("save")
        sp.add_argument("-o", "--output")
        sp.add_argument("images", nargs="+")
        sp.set_defaults(func=cmd_save)
        sp = parent.add_parser("load")
        sp.add_argument("-i", "--input")
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.set_defaults(func=cmd_load)
    from dockling.cli import registry

    registry.register(sub, isub)
    sp = isub.add_parser("inspect")
    sp.add_argument("-f", "--format")
    sp.add_argument("names", nargs="+")
    sp.set_defaults(func=cmd_image_inspect)
    sp = isub.add_parser("prune")
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("-f", "--force", action="store_true")
    sp.set_defaults(func=cmd_prune)


def _images_args(sp) -> None:
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("--digests", action="store_true")
    sp.add_argument("--no-trunc", action="store_true")
    sp.add_argument("-f", "--filter", action="append", default=[])
    sp.add_argument("--format")
    sp.add_argument("repository", nargs="?")
    sp.set_defaults(func=cmd_images)


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.removeprefix("sha256:")[:12]


def cmd_images(cli: Client, a) -> int:
    filters = common_filters(a.filter)
    if a.repository:
        filters.setdefault("reference", []).append(a.repository)
    imgs = cli.get("/images/json", all=a.all, filters=filters or None)
    need_digest = a.digests or "{{.Digest}}" in (a.format or "")
    rows = []
    for img in imgs:
        for repo, tag, digest in _image_rows(img, a.digests, need_digest):
            rows.append(_image_row(img, repo, tag, digest, a.no_trunc))
    fmt = a.format
    if fmt == "raw":  # docker/cli NewImageFormat
        fmt = "image_id: {{.ID}}" if a.quiet else IMAGES_RAW_DIGEST if a.digests else IMAGES_RAW
    elif fmt and fmt != "table" and fmt.startswith("table") and a.digests and \
            "{{.Digest}}" not in fmt:
        fmt += "\\t{{.Digest}}"
    if a.quiet and (not fmt or fmt == "table"):
        for r in rows:  # one line a row, as docker/cli's {{.ID}} prints them
            print(r["ID"])
        return 0
    if fmt and fmt != "table":
        print_formatted(fmt, rows, IMAGE_HEADERS, "formatter.imageContext")
        return 0
    cols = [("REPOSITORY", "Repository"), ("TAG", "Tag")]
    if a.digests:
        cols.append(("DIGEST", "Digest"))
    cols += [("IMAGE ID", "ID"), ("CREATED", "CreatedSince"), ("SIZE", "Size")]
    print(table(rows, cols))
    return 0


IMAGES_RAW = ("repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\n"
              "created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n")
IMAGES_RAW_DIGEST = ("repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\n"
                     "image_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n")


def _familiar_name(ref: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _image_rows(img: dict, digests_flag: bool, need_digest: bool) -> list[tuple]:
    """docker/cli imageFormat: (repository, tag, digest) rows of one image."""
    tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
    dgsts = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
    if not tags and not dgsts:
        return [("<none>", "<none>", "<none>")]
    repo_tags: dict[str, list[str]] = {}
    for t in tags:
        name, _, tag = t.rpartition(":")
        if name and "/" not in tag:
            repo_tags.setdefault(_familiar_name(name), []).append(tag)
    repo_digests: dict[str, list[str]] = {}
    for d in dgsts:
        name, _, dg = d.partition("@")
        repo_digests.setdefault(_familiar_name(name), []).append(dg)
    out = []
    for repo, tag_list in repo_tags.items():
        ds = repo_digests.pop(repo, [])
        if not need_digest:
            ds = []
        for tag in tag_list:
            if not ds:
                out.append((repo, tag, "<none>"))
            for dg in ds:
                out.append((repo, tag, dg))
    for repo, ds in repo_digests.items():
        if digests_flag:
            out += [(repo, "<none>", dg) for dg in ds]
        else:
            out.append((repo, "<none>", ""))
    return out


def _image_row(img: dict, repo: str, tag: str, digest: str, no_trunc: bool) -> dict:
    """docker/cli's imageContext."""
    from dockling.units import human_size, human_size4

    size, shared = img.get("Size", 0), img.get("SharedSize", -1)
    created = img.get("Created", 0)
    t = time.localtime(created)
    return {"ID": _short(img["Id"], no_trunc), "Repository": repo, "Tag": tag,
            "Digest": digest, "CreatedSince": ago(created),
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z ", t) + (t.tm_zone or ""),
            "Size": human_size(size),
            "Containers": "N/A" if img.get("Containers", -1) == -1 else
            str(img["Containers"]),
            "VirtualSize": human_size4(size),
            "SharedSize": "N/A" if shared == -1 else human_size4(shared),
            "UniqueSize": "N/A" if size == -1 or shared == -1 else human_size4(size - shared)}


def cmd_rmi(cli: Client, a) -> int:
    rc = 0
    for name in a.images:
        try:
            out = cli.call("DELETE", f"/images/{name}", {"force": a.force,
                                                        "noprune": a.no_prune})
        except APIError as err:
            print(f"Error response from daemon: {err.message}", file=sys.stderr)
            rc = 1
            continue
        for item in out:
            for k, v in item.items():
                print(f"{k}: {v}")
    return rc


def cmd_tag(cli: Client, a) -> int:
    from dockling.formats.reference import parse

    try:
        ref = parse(a.target)
    except Exception as err:
        raise UsageError(f"invalid reference format: {a.target}") from err
    cli.post(f"/images/{a.source}/tag", repo=ref.familiar_name, tag=ref.tag)
    return 0


def cmd_import(cli: Client, a) -> int:
    if a.file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(a.file, "rb") as f:
                data = f.read()
        except OSError as err:
            raise UsageError(f"open {a.file}: {err.strerror.lower()}") from err
    params: dict = {"fromSrc": "-", "changes": a.change, "message": a.message}
    if a.reference:
        from dockling.formats.reference import parse

        ref = parse(a.reference)
        params["repo"] = ref.familiar_name
        params["tag"] = ref.tag
    resp = cli.call("POST", "/images/create", params, data,
                    {"Content-Type": "application/x-tar"})
    status = resp["status"] if isinstance(resp, dict) else json.loads(resp)["status"]
    print(status)
    return 0


HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


def _history_row(h: dict, no_trunc: bool, human: bool) -> dict:
    """docker/cli's historyContext."""
    t = time.localtime(h.get("Created", 0))
    off = time.strftime("%z", t)
    created_at = time.strftime("%Y-%m-%dT%H:%M:%S", t) + (
        "Z" if off in ("+0000", "-0000") else off[:3] + ":" + off[3:])
    since = created_at
    if human:
        since = "N/A" if h.get("Created", 0) <= 946684800 else ago(h["Created"])
    by = (h.get("CreatedBy") or "").replace("\t", " ")
    if not no_trunc and len(by) > 45:
        by = by[:44] + "…"
    return {"ID": h["Id"] if no_trunc else h["Id"].split(":", 1)[-1][:12],
            "CreatedSince": since, "CreatedAt": created_at, "CreatedBy": by,
            "Size": human_size(h.get("Size", 0)) if human else str(h.get("Size", 0)),
            "Comment": h.get("Comment") or ""}


def cmd_history(cli: Client, a) -> int:
    human = a.human
    hist = cli.get(f"/images/{a.image}/history")
    rows = [_history_row(h, a.no_trunc, human) for h in hist]
    if a.quiet and (not a.format or a.format == "table"):
        print("\n".join(r["ID"] for r in rows))
        return 0
    if a.format and a.format != "table":
        print_formatted(a.format, rows, HISTORY_HEADERS, "image.historyContext")
        return 0
    print(table(rows, [("IMAGE", "ID"), ("CREATED" if human else "CREATED AT",
                                          "CreatedSince"), ("CREATED BY", "CreatedBy"),
                       ("SIZE", "Size"), ("COMMENT", "Comment")]))
    return 0


def cmd_image_inspect(cli: Client, a) -> int:
    return inspect(a.names, lambda n: cli.get(f"/images/{n}/json"), a.format,
                   "image.InspectResponse")


def cmd_prune(cli: Client, a) -> int:
    filters = {"dangling": ["false" if a.all else "true"]}
    out = cli.post("/images/prune", filters=filters)
    for item in out.get("ImagesDeleted") or []:
        for k, v in item.items():
            print(f"{k}: {v}")
    print(f"Total reclaimed space: {human_size(out['SpaceReclaimed'])}")
    return 0


def cmd_save(cli: Client, a) -> int:
    refuse_terminal(a.output)
    save_stream(cli.open("GET", "/images/get", {"names": a.images}), a.output)
    return 0


def cmd_load(cli: Client, a) -> int:
    if a.input:
        try:
            with open(a.input, "rb") as f:
                data = f.read()
        except OSError as err:
            raise UsageError(f"open {a.input}: {err.strerror.lower()}") from err
    else:
        if sys.stdin.isatty():
            raise UsageError("requested load from stdin, but stdin is empty")
        data = sys.stdin.buffer.read()
    raw = cli.call("POST", "/images/load", {"quiet": a.quiet}, data,
                   {"Content-Type": "application/x-tar"})
    lines = raw if isinstance(raw, list) else [json.loads(x) for x in (
        raw.decode() if isinstance(raw, bytes) else json.dumps(raw)).splitlines() if x.strip()]
    if isinstance(raw, dict):
        lines = [raw]
    for msg in lines:
        if "errorDetail" in msg or "error" in msg:  # docker's load fails inside its stream
            print((msg.get("errorDetail") or {}).get("message") or msg["error"], file=sys.stderr)
            return 1
        if not a.quiet:
            sys.stdout.write(msg.get("stream", ""))
    return 0
