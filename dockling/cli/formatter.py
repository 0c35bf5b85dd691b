"""docker/cli's formatter, for --format: formatter.Context.Write (rows as formatter
contexts, the `table` directive's header row and tabwriter, `json`), the inspect
TemplateInspector (docker's Go types first, then the raw JSON with missingkey=error),
info, version and events. Imported only when a --format is given (dockling.cli.format
holds what every command imports)."""

from __future__ import annotations

import json
import sys

from dockling.cli.format import TypedNil, fail

# -- formatter.Context.Write (ls-style commands) -------------------------------------------

def template_string(fmt: str) -> str:
    """formatter.Format.templateString: `json` is {{json .}}, `table` prefix cut, spaces
    trimmed, \\t and \\n escapes made real."""
    if fmt == "table":
        return ""
    if fmt == "json":
        return "{{json .}}"
    if fmt.startswith("table"):
        fmt = fmt[len("table"):]
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def context(type_name: str, fields: dict, labels: dict | None = None, used: set | None = None):
    """A formatter context: each field a method (docker/cli's contexts are method-only;
    a callable value is computed when the template asks for it), plus Label(name) when
    the row has labels. Methods called are added to `used`."""
    from dockling.cli.gotemplate import Func, Struct
    from dockling.cli.gotemplate.values import _NAMED, Nil, register_struct

    if type_name not in _NAMED:
        register_struct(type_name, [])
    if "formatter.Platform" not in _NAMED:
        register_struct("formatter.Platform", [("Platform", "v1.Platform", "Platform", True)])
        from dockling.cli import dockertypes

        dockertypes.load()
    methods = {}
    for name, value in fields.items():
        if isinstance(value, TypedNil):
            value = Nil(value.type_name)

        def get(name=name, value=value):
            if used is not None:
                used.add(name)
            return value() if callable(value) else value
        result = "string" if isinstance(value, str) or callable(value) else "interface {}"
        methods[name] = Func(name, [], get, results=(result,))
    if labels is not None:
        methods["Label"] = Func("Label", ["string"], lambda n: labels.get(n, ""),
                                results=("string",))
    return Struct(type_name, {}, ptr=True, methods=methods)


def check_template(fmt: str, type_name: str, empty_row: dict, watch: str) -> bool:
    """ps's early check (container/list.go): the template parsed and run on an empty
    container ("failed to parse/execute template: ..."); True if it used `watch`."""
    from dockling.cli import templates
    from dockling.cli.gotemplate import ExecError, ParseError

    try:
        tmpl = templates.parse(fmt)
    except ParseError as err:
        fail(f"failed to parse template: {err}")
    used: set = set()
    fields = {k: v for k, v in empty_row.items() if not k.startswith("_")}
    try:
        tmpl.execute(context(type_name, fields, empty_row.get("_labels"), used))
    except ExecError as err:
        fail(f"failed to execute template: {err}")
    return watch in used


def _header_value(headers: dict[str, str]):
    """SubHeaderContext: a map[string]string whose Label(name) gives a label's header."""
    from dockling.cli.gotemplate import Func
    from dockling.cli.gotemplate.values import _NAMED, Map, gotype, register_named

    if "formatter.SubHeaderContext" not in _NAMED:
        register_named("formatter.SubHeaderContext", "map[string]string")

        def label(_recv) -> Func:
            def header(name: str) -> str:
                return name.split(".")[-1].replace("-", " ").replace("_", " ")
            return Func("Label", ["string"], header, results=("string",))
        gotype("formatter.SubHeaderContext").methods["Label"] = label
    return Map(headers, gotype("formatter.SubHeaderContext"))


def format_contexts(fmt: str, contexts: list, headers: dict[str, str]) -> str:
    """formatter.Context.Write: every row through the template, then (table) the header
    row rendered from the header map with the header functions, all through the
    tabwriter (minwidth 10, padding 3)."""
    from dockling.cli import templates
    from dockling.cli.gotemplate import ExecError, ParseError
    from dockling.cli.tabwriter import TabWriter

    try:
        tmpl = templates.parse(template_string(fmt))
    except ParseError as err:
        fail(f"template parsing error: {err}")
    rows = []
    for c in contexts:
        try:
            rows.append(tmpl.execute(c) + "\n")
        except ExecError as err:
            fail(f"template parsing error: {err}")
    if not fmt.startswith("table"):
        return "".join(rows)
    tmpl.funcs(templates.header_functions())
    try:
        head = tmpl.execute(_header_value(headers))
    except ExecError as err:  # docker ignores it: what was written before stays
        head = err.partial
    tw = TabWriter(10, 1, 3)
    tw.write(head)
    tw.write("\n")
    tw.write("".join(rows))
    return tw.flush()


def row_context(row, type_name: str):
    """A row dict as a context; "_labels" gives Label(name), "_type" its own type."""
    if isinstance(row, dict):
        fields = {k: v for k, v in row.items() if not k.startswith("_")}
        return context(row.get("_type", type_name), fields, row.get("_labels"))
    return row


# -- inspect (cli/command/inspect/inspector.go) ----------------------------------------------

def _raw(value):
    """The document as docker's raw fallback decodes it: numbers are json.Number."""
    from dockling.cli.gotemplate.values import Number

    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return Number(json.dumps(value))
    if isinstance(value, list):
        return [_raw(x) for x in value]
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    return value


def format_documents(docs: list[tuple[dict, str | None]], fmt: str,
                     raw_fallback: bool = True) -> tuple[str, list[str]]:
    """TemplateInspector: (stdout text, error messages). Each document runs as its Go
    type; if that fails, as a plain map with missingkey=error (kept for the documents
    after it, as docker's template option is). A template that does not parse exits 64."""
    from dockling.cli import dockertypes, templates
    from dockling.cli.gotemplate import ExecError, ParseError

    if fmt == "json":  # the raw JSON compacted; without raw JSON, the typed values
        if raw_fallback:
            return json.dumps([d for d, _ in docs], separators=(",", ":"),
                              ensure_ascii=False) + "\n", []
        from dockling.cli.gotemplate.gojson import marshal

        return marshal([dockertypes.typed(d, t) for d, t in docs]) + "\n", []
    try:
        tmpl = templates.parse(fmt)
    except ParseError as err:
        fail(f"template parsing error: {err}", 64)
    out, errors = [], []
    for doc, go_type in docs:
        try:
            if go_type is None:
                raise ExecError("no Go type")
            out.append(tmpl.execute(dockertypes.typed(doc, go_type)) + "\n")
            continue
        except ExecError as err:
            if not raw_fallback:
                errors.append(f"template parsing error: {err}")
                continue
        tmpl.option("missingkey=error")
        try:
            out.append(tmpl.execute(_raw(doc)) + "\n")
        except ExecError as err:
            errors.append(f"template parsing error: {err}")
    return "".join(out) or "\n", errors


# -- info, version, events ----------------------------------------------------------------------

def _client_version(api_version: str, context_name: str = "default") -> dict:
    import platform

    import dockling

    return {"Version": dockling.__version__, "ApiVersion": api_version,
            "DefaultAPIVersion": "1.47", "GitCommit": "", "GoVersion":
            "python" + platform.python_version(), "Os": sys.platform, "Arch":
            {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                        platform.machine()),
            "BuildTime": "", "Context": context_name}


def print_info(info: dict, fmt: str) -> int:
    """docker info --format: the template over dockerInfo (the server's Info, embedded,
    and ClientInfo); what it printed before an error stays, then a newline."""
    from dockling.cli import dockertypes, templates
    from dockling.cli.gotemplate import ExecError, ParseError

    if fmt == "json":
        fmt = "{{json .}}"
    try:
        tmpl = templates.parse(fmt)
    except ParseError as err:
        fail(f"template parsing error: {err}", 64)
    # info's client part asks no API version of the daemon (newClientVersion(ctx, nil))
    client = {k: v for k, v in _client_version("").items() if k != "ApiVersion"}
    doc = {**info, "ClientInfo": {"Debug": False, **client, "Plugins": [], "Warnings": None}}
    value = dockertypes.typed(doc, "system.dockerInfo")
    try:
        sys.stdout.write(tmpl.execute(value) + "\n")
    except ExecError as err:
        sys.stdout.write(err.partial + "\n")
        fail(str(err))
    return 0


def print_version(server: dict | None, fmt: str) -> int:
    """docker version --format: the template (named "version") over versionInfo, written
    through a tabwriter (minwidth 20, padding 1) as docker does."""
    from dockling.cli import dockertypes, templates
    from dockling.cli.gotemplate import ExecError, Func, ParseError
    from dockling.cli.tabwriter import TabWriter

    if fmt == "json":
        fmt = "{{json .}}"
    dockertypes.load()
    order = Func("getDetailsOrder", ["types.ComponentVersion"],
                 lambda c: sorted(c.field("Details") or {}), results=("[]string",))
    try:
        tmpl = templates.parse(fmt, "version", {"getDetailsOrder": order})
    except ParseError as err:
        fail(f"template parsing error: {err}", 64)
    doc = {"Client": _client_version(server.get("ApiVersion", "") if server else ""),
           "Server": None}
    if server is not None:
        server = dict(server)
        comps = list(server.get("Components") or [])
        if not any(c.get("Name") == "Engine" for c in comps):
            comps.append({"Name": "Engine", "Version": server.get("Version", ""), "Details": {
                "ApiVersion": server.get("ApiVersion", ""),
                "MinAPIVersion": server.get("MinAPIVersion", ""),
                "GitCommit": server.get("GitCommit", ""),
                "GoVersion": server.get("GoVersion", ""), "Os": server.get("Os", ""),
                "Arch": server.get("Arch", ""), "BuildTime": server.get("BuildTime", ""),
                "Experimental": str(bool(server.get("Experimental"))).lower()}})
        server["Components"] = comps
        doc["Server"] = server
    tw = TabWriter(20, 1, 1)
    try:
        tw.write(tmpl.execute(dockertypes.typed(doc, "system.versionInfo")))
        err = None
    except ExecError as e:
        tw.write(e.partial)
        err = e
    tw.write("\n")
    sys.stdout.write(tw.flush())
    if err is not None:
        fail(str(err))
    return 0


def event_template(fmt: str):
    """docker events --format: parsed, then tried on an empty message (a bad field is an
    error before any event: "Error parsing format: ...", 64)."""
    from dockling.cli import dockertypes, templates
    from dockling.cli.gotemplate import ExecError, ParseError

    if fmt == "json":
        fmt = "{{json .}}"
    try:
        tmpl = templates.parse(fmt)
        empty = dockertypes.typed({}, "events.Message")
        empty.ptr = True
        tmpl.execute(empty)
    except (ParseError, ExecError) as err:
        fail(f"Error parsing format: {err}", 64)
    return tmpl


def print_event(tmpl, event: dict) -> None:
    from dockling.cli import dockertypes
    from dockling.cli.gotemplate import ExecError

    value = dockertypes.typed(event, "events.Message")
    try:
        sys.stdout.write(tmpl.execute(value) + "\n")
    except ExecError as err:
        sys.stdout.write(err.partial + "\n")
        fail(str(err))
    sys.stdout.flush()
