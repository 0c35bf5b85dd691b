"""Tests for dockling.builder.dockerfile: BuildKit's Dockerfile parser."""

from __future__ import annotations

import pytest

from dockling.builder import dockerfile as df
from dockling.builder.dockerfile import parse, parse_instruction
from dockling.containers.model import HealthConfig
from dockling.errors import InvalidArgument


def one(text: str, escape_line: str = "") -> df.Instruction:
    """The single instruction after FROM in a Dockerfile made of ``text``."""
    d = parse(f"{escape_line}FROM scratch\n{text}\n")
    assert len(d.stages) == 1 and len(d.stages[0].instructions) == 1
    return d.stages[0].instructions[0]


def error(text: str | bytes) -> str:
    with pytest.raises(InvalidArgument) as e:
        parse(text)
    return str(e.value)


# -- every instruction, in each of its forms ---------------------------------------------

FORMS = [
    ("RUN echo hi", df.Run, {"cmd": ["echo hi"], "shell": True}),
    ('RUN ["echo", "hi"]', df.Run, {"cmd": ["echo", "hi"], "shell": False}),
    ("RUN echo a   b", df.Run, {"cmd": ["echo a   b"]}),
    ("run lower case", df.Run, {"cmd": ["lower case"]}),
    ("RUN []", df.Run, {"cmd": [], "shell": False}),
    ('CMD ["a", "b c"]', df.Cmd, {"cmd": ["a", "b c"], "shell": False}),
    ("CMD a  b", df.Cmd, {"cmd": ["a  b"], "shell": True}),
    ("ENTRYPOINT top -b", df.Entrypoint, {"cmd": ["top -b"], "shell": True}),
    ('ENTRYPOINT ["top", "-b"]', df.Entrypoint, {"cmd": ["top", "-b"], "shell": False}),
    ("ENTRYPOINT []", df.Entrypoint, {"cmd": [], "shell": False}),
    ('SHELL ["/bin/bash", "-c"]', df.Shell, {"cmd": ["/bin/bash", "-c"]}),
    ("ENV A=1", df.Env, {"pairs": [("A", "1")]}),
    ('ENV A=1 B="two words" C=\'x\' D=a\\ b', df.Env,
     {"pairs": [("A", "1"), ("B", '"two words"'), ("C", "'x'"), ("D", "a\\ b")]}),
    ("ENV OLD value with  spaces", df.Env, {"pairs": [("OLD", "value with  spaces")]}),
    ('ENV OLD "quoted"', df.Env, {"pairs": [("OLD", '"quoted"')]}),
    ("ENV E=", df.Env, {"pairs": [("E", "")]}),
    ('ENV X=$Y Z="${W:-v}"', df.Env, {"pairs": [("X", "$Y"), ("Z", '"${W:-v}"')]}),
    ('LABEL a=b "c d"="e f"', df.Label, {"pairs": [("a", "b"), ('"c d"', '"e f"')]}),
    ("LABEL version 1.0 beta", df.Label, {"pairs": [("version", "1.0 beta")]}),
    ("ARG a", df.Arg, {"args": [("a", None)]}),
    ("ARG a=b", df.Arg, {"args": [("a", "b")]}),
    ('ARG a b=c d="e f" g=', df.Arg,
     {"args": [("a", None), ("b", "c"), ("d", '"e f"'), ("g", "")]}),
    ("MAINTAINER Jane Doe <jane@example.com>", df.Maintainer,
     {"name": "Jane Doe <jane@example.com>"}),
    ("EXPOSE 80 443/tcp 53/udp", df.Expose, {"ports": ["443/tcp", "53/udp", "80"]}),
    ("USER app:app", df.User, {"user": "app:app"}),
    ("USER some user", df.User, {"user": "some user"}),
    ("WORKDIR /app dir", df.Workdir, {"path": "/app dir"}),
    ('VOLUME ["/a", "/b"]', df.Volume, {"paths": ["/a", "/b"]}),
    ("VOLUME /a /b", df.Volume, {"paths": ["/a", "/b"]}),
    ('VOLUME [" /padded "]', df.Volume, {"paths": ["/padded"]}),
    ("STOPSIGNAL SIGKILL", df.StopSignal, {"signal": "SIGKILL"}),
    ("HEALTHCHECK NONE", df.Healthcheck, {"test": ["NONE"]}),
    ("HEALTHCHECK CMD curl -f http://localhost/", df.Healthcheck,
     {"test": ["CMD-SHELL", "curl -f http://localhost/"]}),
    ('HEALTHCHECK CMD ["curl", "-f", "x"]', df.Healthcheck, {"test": ["CMD", "curl", "-f", "x"]}),
    ("healthcheck cmd true", df.Healthcheck, {"test": ["CMD-SHELL", "true"]}),
    (("HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=2s "
     "--retries=3 CMD true"), df.Healthcheck,
     {"interval": "30s", "timeout": "3s", "start_period": "1m", "start_interval": "2s",
      "retries": "3"}),
    ("ONBUILD RUN echo hi", df.Onbuild, {"expression": "RUN echo hi"}),
    ("onbuild   COPY . /app", df.Onbuild, {"expression": "COPY . /app"}),
    ("COPY a b /dst/", df.Copy, {"sources": ["a", "b"], "dest": "/dst/", "from_": None}),
    ('COPY ["a b", "c", "/dst/"]', df.Copy, {"sources": ["a b", "c"], "dest": "/dst/"}),
    (("COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md "
     "--exclude=x a /d"), df.Copy,
     {"from_": "build", "chown": "1:2", "chmod": "755", "link": True, "parents": True,
      "excludes": ["*.md", "x"]}),
    ("COPY --link=false a /d", df.Copy, {"link": False}),
    ("COPY --link=TRUE a /d", df.Copy, {"link": True}),
    ("ADD https://example.com/x.tgz /d", df.Add,
     {"sources": ["https://example.com/x.tgz"], "dest": "/d", "checksum": None}),
    ('ADD ["a", "/d"]', df.Add, {"sources": ["a"], "dest": "/d"}),
    (("ADD --chown=u --chmod=600 --link --checksum=sha256:abc --keep-git-dir=true "
     "--exclude=a a /d"), df.Add,
     {"chown": "u", "chmod": "600", "link": True, "checksum": "sha256:abc",
      "keep_git_dir": True, "excludes": ["a"]}),
    (("RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=s "
     "--network=none --security=insecure make"), df.Run,
     {"cmd": ["make"], "mounts": ["type=cache,target=/root/.cache", "type=secret,id=s"],
      "network": "none", "security": "insecure"}),
    ('RUN --mount="type=bind,source=a b" ls', df.Run, {"mounts": ["type=bind,source=a b"]}),
    ("RUN -- --not-a-flag", df.Run, {"cmd": ["--not-a-flag"]}),
    ("RUN -x", df.Run, {"cmd": ["-x"]}),
]


@pytest.mark.parametrize(("text", "kind", "fields"), FORMS)
def test_instruction_forms(text: str, kind: type, fields: dict) -> None:
    inst = one(text)
    assert type(inst) is kind
    assert inst.keyword == kind.keyword
    for name, value in fields.items():
        assert getattr(inst, name) == value, name


# -- JSON or shell form ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "cmd", "shell"), [
    ('CMD ["a", "b"]', ["a", "b"], False),
    ('CMD   [ "a" ]  ', ["a"], False),
    ("CMD [a, b]", ["[a, b]"], True),  # not JSON: the shell form, as buildkit
    ("CMD ['a']", ["['a']"], True),
    ('CMD ["a"', ['["a"'], True),
    ('CMD ["a] b', ['["a] b'], True),
    ('CMD ["a"] trailing', ['["a"] trailing'], True),
    ('CMD ["echo \\"hi\\""]', ['echo "hi"'], False),
    ('CMD ["\\u00e9"]', ["é"], False),
    ("CMD [NaN]", ["[NaN]"], True),
    ('CMD {"a": 1}', ['{"a": 1}'], True),
])
def test_json_or_shell(text: str, cmd: list[str], shell: bool) -> None:
    inst = one(text)
    assert isinstance(inst, df.Cmd)
    assert (inst.cmd, inst.shell) == (cmd, shell)


@pytest.mark.parametrize("text", ['RUN ["a", 1]', 'CMD [["a"]]', 'COPY ["a", null]',
                                  'HEALTHCHECK CMD ["a", true]'])
def test_json_must_be_strings(text: str) -> None:
    assert error(f"FROM a\n{text}\n") == (
        "when using JSON array syntax, arrays must be comprised of strings only")


# -- lines: continuation, comments, positions ---------------------------------------------

def test_continuation_with_comments_and_blank_lines() -> None:
    d = parse("FROM a\nRUN apt-get update \\\n    # a comment\n\n    && apt-get install -y x \\\n"
              "\t&& done\nUSER me\n")
    run, user = d.stages[0].instructions
    assert run.original == "RUN apt-get update     && apt-get install -y x \t&& done"
    assert run.cmd == ["apt-get update     && apt-get install -y x \t&& done"]
    assert (run.line, run.end_line) == (2, 6)
    assert (user.line, user.end_line) == (7, 7)


def test_continuation_at_eof_and_escaped_escape() -> None:
    d = parse("FROM a\nRUN echo a\\\\\nRUN echo b \\")
    first, second = d.stages[0].instructions
    assert first.cmd == ["echo a\\\\"]  # an escaped escape does not continue the line
    assert second.cmd == ["echo b"]
    assert (second.line, second.end_line) == (3, 3)


def test_line_numbers_skip_directives_comments_and_blank_lines() -> None:
    text = ("# escape=\\\n\n\n\nFROM busybox\n\n\n# a comment\n\n\nENV GOPATH \\\n/go\n\n\n\n"
            "# more\nRUN a \\\n\tb \\\n\n\n    c\n\n")
    d = parse(text)
    st = d.stages[0]
    assert (st.base.line, st.base.end_line) == (5, 5)
    env, run = st.instructions
    assert (env.line, env.end_line) == (11, 12)
    assert env.pairs == [("GOPATH", "/go")]
    assert (run.line, run.end_line) == (17, 21)


def test_leading_whitespace_comments_and_crlf() -> None:
    d = parse(b"\xef\xbb\xbf  # comment\r\n\t FROM a AS base\r\nRUN echo \\\r\n  hi\r\n")
    st = d.stages[0]
    assert st.base.original == "FROM a AS base"
    assert st.instructions[0].cmd == ["echo   hi"]


def test_original_keeps_the_text_as_written() -> None:
    inst = one("COPY --chown=a:b  src   /dst  ")
    assert inst.original == "COPY --chown=a:b  src   /dst"
    assert inst.flags == {"chown": ["a:b"]}


# -- parser directives -------------------------------------------------------------------

def test_directives() -> None:
    d = parse("# syntax=docker/dockerfile:1.7\n#ESCAPE = `\n# check=skip=all\nFROM a\n")
    assert d.syntax == "docker/dockerfile:1.7"
    assert d.escape == "`"


def test_directive_only_before_anything_else() -> None:
    # after a comment, an empty line or an instruction it is just a comment
    for prefix in ("# hello\n", "\n", "FROM a\n"):
        d = parse(f"{prefix}# escape=`\nFROM b\nRUN a \\\n  b\n")
        assert d.escape == "\\"
        assert d.stages[-1].instructions[0].cmd == ["a   b"]


def test_unknown_directive_ends_directives() -> None:
    d = parse("# foo=bar\n# escape=`\nFROM a\n")
    assert d.escape == "\\"


def test_backtick_escape() -> None:
    d = parse("# escape=`\nFROM windows\nRUN dir c:\\ `\n    && echo done\n"
              "COPY --chown=`\"a`\" c:\\src c:\\dst\\\nENV P=c:\\path X=a` b\n")
    run, copy, env = d.stages[0].instructions
    assert run.cmd == ["dir c:\\     && echo done"]
    assert copy.chown == '"a"'
    assert (copy.sources, copy.dest) == (["c:\\src"], "c:\\dst\\")
    assert env.pairs == [("P", "c:\\path"), ("X", "a` b")]


@pytest.mark.parametrize(("text", "message"), [
    ("# escape=x\nFROM a\n", "invalid escape token 'x' does not match ` or \\"),
    ("# escape=`\n# escape=\\\nFROM a\n", "only one escape parser directive can be used"),
    ("# syntax=a\n# SYNTAX=b\nFROM a\n", "only one syntax parser directive can be used"),
])
def test_directive_errors(text: str, message: str) -> None:
    assert error(text) == message


# -- heredocs ----------------------------------------------------------------------------

HEREDOCS = [
    # (instruction line, body lines, heredoc names, contents, expand, chomp)
    ("RUN <<EOF", "echo hi\nEOF\n", ["EOF"], ["echo hi\n"], [True], [False]),
    ("RUN <<EMPTY", "EMPTY\n", ["EMPTY"], [""], [True], [False]),
    ("RUN 3<<EOF", "x\nEOF\n", ["EOF"], ["x\n"], [True], [False]),
    ("RUN <<INDENT", "\tfoo\n\tbar\nINDENT\n", ["INDENT"], ["\tfoo\n\tbar\n"], [True], [False]),
    ("RUN <<-EOT", "\tfoo\n\t\tbar\n\tEOT\n", ["EOT"], ["foo\nbar\n"], [True], [True]),
    ("RUN <<'EOF'", "echo $HOME\nEOF\n", ["EOF"], ["echo $HOME\n"], [False], [False]),
    ('RUN <<"EOF"', "x\nEOF\n", ["EOF"], ["x\n"], [False], [False]),
    ("RUN <<-'EOF' cat", "\tx\nEOF\n", ["EOF"], ["x\n"], [False], [True]),
    ("RUN <<eo'f'", "x\neof\n", ["eof"], ["x\n"], [False], [False]),
    ("RUN <<eo\\'f", "x\neo'f\n", ["eo'f"], ["x\n"], [True], [False]),
    ("RUN <<'one two'", "x\none two\n", ["one two"], ["x\n"], [False], [False]),
    ("RUN <<$EOF", "$EOF\n", ["$EOF"], [""], [True], [False]),
    ("RUN <<  EOF  > /out", "x\nEOF\n", ["EOF"], ["x\n"], [True], [False]),
    ("RUN python3 <<PY", "print('# not a comment')\nPY\n", ["PY"],
     ["print('# not a comment')\n"], [True], [False]),
    ("RUN --mount=type=cache,target=/c <<EOF", "echo\nEOF\n", ["EOF"], ["echo\n"], [True],
     [False]),
    ("RUN <<A <<B", "a\nA\nb\nB\n", ["A", "B"], ["a\n", "b\n"], [True, True], [False, False]),
    ("RUN <<X cat - <<Y", "Y\nX\nX\nY\n", ["X", "Y"], ["Y\n", "X\n"], [True, True],
     [False, False]),
    ("RUN <<EOF", "a\r\nEOF\r\n", ["EOF"], ["a\r\n"], [True], [False]),
]


@pytest.mark.parametrize(("line", "body", "names", "contents", "expand", "chomp"), HEREDOCS)
def test_run_heredocs(line: str, body: str, names: list[str], contents: list[str],
                      expand: list[bool], chomp: list[bool]) -> None:
    d = parse(f"FROM a\n{line}\n{body}USER after\n")
    run, user = d.stages[0].instructions
    assert isinstance(run, df.Run) and run.shell
    assert run.cmd == [line.removeprefix("RUN ").removeprefix("--mount=type=cache,target=/c ")]
    assert [h.name for h in run.heredocs] == names
    assert [h.content for h in run.heredocs] == contents
    assert [h.expand for h in run.heredocs] == expand
    assert [h.chomp for h in run.heredocs] == chomp
    assert user.line == run.end_line + 1
    assert run.original == line


def test_not_heredocs() -> None:
    d = parse('FROM a\nRUN "<<NOHEREDOC"\nRUN ["<<EOF"]\nRUN echo a<<b\nUSER <<X\n')
    quoted, json_form, glued, user = d.stages[0].instructions
    assert (quoted.heredocs, json_form.heredocs, glued.heredocs) == ([], [], [])
    assert json_form.cmd == ["<<EOF"]
    assert user.user == "<<X"  # only RUN, COPY and ADD take heredocs


def test_copy_heredocs() -> None:
    d = parse("FROM a\nCOPY <<one.txt <<-'two' /dest/\n1\none.txt\n\t$2\n\ttwo\nCOPY a b\n")
    copy, plain = d.stages[0].instructions
    assert copy.sources == ["<<one.txt", "<<-'two'"]
    assert copy.dest == "/dest/"
    assert copy.heredocs == [df.Heredoc("one.txt", "1\n", True, False),
                             df.Heredoc("two", "$2\n", False, True)]
    assert (copy.line, copy.end_line, plain.line) == (2, 6, 7)


def test_add_heredoc_and_json_form() -> None:
    d = parse('FROM a\nADD <<EOF /f\nbody\nEOF\nCOPY ["<<EOF", "/g"]\n')
    add, copy = d.stages[0].instructions
    assert add.heredocs == [df.Heredoc("EOF", "body\n", True, False)]
    # JSON form reads no body; buildkit still makes an (empty) inline file of it
    assert copy.heredocs == [df.Heredoc("EOF", "", True, False)]


def test_onbuild_heredoc_expression() -> None:
    inst = one("ONBUILD RUN <<EOF\necho hi\nEOF")
    assert isinstance(inst, df.Onbuild)
    assert inst.expression == "RUN <<EOF\necho hi\nEOF"
    again = parse_instruction(inst.expression)
    assert isinstance(again, df.Run)
    assert again.heredocs == [df.Heredoc("EOF", "echo hi\n", True, False)]


def test_unterminated_heredoc() -> None:
    assert error("FROM a\nRUN <<EOF\necho\n") == "unterminated heredoc"
    assert error("FROM a\nRUN <<-EOF\nx\n EOF\n") == "unterminated heredoc"


# -- stages ------------------------------------------------------------------------------

def test_stages_and_meta_args() -> None:
    d = parse("ARG BASE=alpine\nARG V\nFROM $BASE AS Builder\nARG V\nRUN make\n"
              "FROM --platform=$BUILDPLATFORM scratch\nCOPY --from=builder /out /\n")
    assert [a.args for a in d.meta_args] == [[("BASE", "alpine")], [("V", None)]]
    b, final = d.stages
    assert (b.name, b.index, b.base.image, b.base.name) == ("builder", 0, "$BASE", "builder")
    assert [type(i) for i in b.instructions] == [df.Arg, df.Run]
    assert (final.name, final.index, final.base.platform) == (None, 1, "$BUILDPLATFORM")
    assert final.base.flags == {"platform": ["$BUILDPLATFORM"]}
    assert final.instructions[0].from_ == "builder"


def test_only_args_is_no_stage() -> None:
    d = parse("ARG a\n")
    assert d.stages == [] and len(d.meta_args) == 1


@pytest.mark.parametrize("name", ["AS", "as", "As"])
def test_as_is_case_insensitive(name: str) -> None:
    assert parse(f"FROM a {name} X.y-z_1\n").stages[0].name == "x.y-z_1"


# -- errors, with docker's words ---------------------------------------------------------

ERRORS = [
    (b"", "the Dockerfile (Dockerfile) cannot be empty"),
    ("", "the Dockerfile (Dockerfile) cannot be empty"),
    ("# just a comment\n\n   \n", "file with no instructions"),
    ("\n", "file with no instructions"),
    ("RUN x\n", "no build stage in current context"),
    ("ARG a\nENV b=c\n", "no build stage in current context"),
    # BuildKit's text, as docker 23+ prints it (the classic builder too); 20.10
    # said "dockerfile parse error line 2: unknown instruction: FOO" with no hint.
    ("FROM a\nFOO bar\n", ("dockerfile parse error on line 2: unknown instruction: FOO "
     "(did you mean FROM?)")),
    ("FROM a\nrunn x\n", ("dockerfile parse error on line 2: unknown instruction: runn "
     "(did you mean run?)")),
    ("FROM a\nXYZZY x\n", "dockerfile parse error on line 2: unknown instruction: XYZZY"),
    ("FROM a\nRUN a \\\n b\nBOGUS\n", ("dockerfile parse error on line 4: unknown instruction: "
     "BOGUS")),
    ("FROM\n", "dockerfile parse error on line 1: FROM requires either one or three arguments"),
    ("FROM a b\n", ("dockerfile parse error on line 1: FROM requires either one or three "
     "arguments")),
    ("FROM a AS 1st\n", ("dockerfile parse error on line 1: invalid name for build stage: "
     "\"1st\", name can't start with a number or contain symbols")),
    ("FROM a AS b/c\n", ("dockerfile parse error on line 1: invalid name for build stage: "
     "\"b/c\", name can't start with a number or contain symbols")),
    ("FROM a\nENV\n", "dockerfile parse error on line 2: ENV requires at least one argument"),
    ("FROM a\nENV x\n", "ENV must have two arguments"),
    ("FROM a\nLABEL x\n", "LABEL must have two arguments"),
    ("FROM a\nENV =x\n", "dockerfile parse error on line 2: ENV names can not be blank"),
    ("FROM a\nLABEL =x\n", "dockerfile parse error on line 2: LABEL names can not be blank"),
    ("FROM a\nENV a=b x\n", ("Syntax error - can't find = in \"x\". Must be of the form: "
     "name=value")),
    ("FROM a\nLABEL\n", "dockerfile parse error on line 2: LABEL requires at least one argument"),
    ("FROM a\nCOPY x\n", ("dockerfile parse error on line 2: COPY requires at least two "
     "arguments, but only one was provided. Destination could not be determined")),
    ("FROM a\nADD\n", ("dockerfile parse error on line 2: ADD requires at least two arguments, "
     "but only one was provided. Destination could not be determined")),
    ("FROM a\nMAINTAINER\n", ("dockerfile parse error on line 2: MAINTAINER requires exactly "
     "one argument")),
    ("FROM a\nWORKDIR\n", ("dockerfile parse error on line 2: WORKDIR requires exactly one "
     "argument")),
    ("FROM a\nUSER\n", "dockerfile parse error on line 2: USER requires exactly one argument"),
    ("FROM a\nSTOPSIGNAL\n", ("dockerfile parse error on line 2: STOPSIGNAL requires exactly "
     "one argument")),
    ("FROM a\nEXPOSE\n", ("dockerfile parse error on line 2: EXPOSE requires at least one "
     "argument")),
    ("FROM a\nVOLUME\n", ("dockerfile parse error on line 2: VOLUME requires at least one "
     "argument")),
    ('FROM a\nVOLUME ["/a", " "]\n', ("dockerfile parse error on line 2: VOLUME specified can "
     "not be an empty string")),
    ("FROM a\nARG\n", "dockerfile parse error on line 2: ARG requires at least one argument"),
    ("FROM a\nARG =x\n", "dockerfile parse error on line 2: ARG names can not be blank"),
    ("FROM a\nSHELL\n", ("dockerfile parse error on line 2: SHELL requires at least one "
     "argument")),
    ("FROM a\nSHELL []\n", ("dockerfile parse error on line 2: SHELL requires at least one "
     "argument")),
    ("FROM a\nSHELL /bin/sh -c\n", ("dockerfile parse error on line 2: SHELL requires the "
     "arguments to be in JSON form")),
    ("FROM a\nONBUILD\n", ("dockerfile parse error on line 2: ONBUILD requires at least one "
     "argument")),
    ("FROM a\nONBUILD ONBUILD RUN x\n", ("dockerfile parse error on line 2: Chaining ONBUILD "
     "via `ONBUILD ONBUILD` isn't allowed")),
    ("FROM a\nONBUILD from x\n", ("dockerfile parse error on line 2: FROM isn't allowed as an "
     "ONBUILD trigger")),
    ("FROM a\nONBUILD MAINTAINER x\n", ("dockerfile parse error on line 2: MAINTAINER isn't "
     "allowed as an ONBUILD trigger")),
    ("FROM a\nONBUILD ENV x\n", "ENV must have two arguments"),
    ("FROM a\nHEALTHCHECK\n", ("dockerfile parse error on line 2: HEALTHCHECK requires at "
     "least one argument")),
    ("FROM a\nHEALTHCHECK NONE x\n", ("dockerfile parse error on line 2: HEALTHCHECK NONE "
     "takes no arguments")),
    ("FROM a\nHEALTHCHECK CMD\n", ("dockerfile parse error on line 2: Missing command after "
     "HEALTHCHECK CMD")),
    ("FROM a\nHEALTHCHECK foo x\n", ("dockerfile parse error on line 2: Unknown type \"FOO\" "
     "in HEALTHCHECK (try CMD)")),
    ("FROM a\nHEALTHCHECK --interval=500us CMD x\n", ("dockerfile parse error on line 2: "
     "Interval \"interval\" cannot be less than 1ms")),
    ("FROM a\nHEALTHCHECK --start-period=-1s CMD x\n", ("dockerfile parse error on line 2: "
     "Interval \"start-period\" cannot be less than 1ms")),
    ("FROM a\nHEALTHCHECK --timeout=soon CMD x\n", ("dockerfile parse error on line 2: time: "
     "invalid duration \"soon\"")),
    ("FROM a\nHEALTHCHECK --retries=-2 CMD x\n", ("dockerfile parse error on line 2: --retries "
     "cannot be negative (-2)")),
    ("FROM a\nHEALTHCHECK --retries=many CMD x\n", ("dockerfile parse error on line 2: "
     "strconv.ParseInt: parsing \"many\": invalid syntax")),
    # flags (bflag.go)
    ("FROM a\nMAINTAINER --boo joe\n", "dockerfile parse error on line 2: unknown flag: --boo"),
    ("FROM a\nRUN --foo x\n", "dockerfile parse error on line 2: unknown flag: --foo"),
    ("FROM a\nRUN --mont=type=bind x\n", ("dockerfile parse error on line 2: unknown flag: "
     "--mont (did you mean mount?)")),
    ("FROM a\nCOPY --chmdo=755 a b\n", ("dockerfile parse error on line 2: unknown flag: "
     "--chmdo (did you mean chmod?)")),
    ("FROM a\nADD --from=x a b\n", "dockerfile parse error on line 2: unknown flag: --from"),
    ("FROM a\nADD --parents a b\n", "dockerfile parse error on line 2: unknown flag: --parents"),
    ("FROM a\nCOPY --checksum=x a b\n", ("dockerfile parse error on line 2: unknown flag: "
     "--checksum")),
    ("FROM a\nENV --x=1 a=b\n", "dockerfile parse error on line 2: unknown flag: --x"),
    ("FROM --plaform=x a\n", ("dockerfile parse error on line 1: unknown flag: --plaform "
     "(did you mean platform?)")),
    ("FROM --platform a\n", ("dockerfile parse error on line 1: missing a value on flag: "
     "--platform")),
    ("FROM a\nCOPY --link=maybe a b\n", ("dockerfile parse error on line 2: expecting boolean "
     "value for flag --link, not: maybe")),
    ("FROM a\nCOPY --link= a b\n", ("dockerfile parse error on line 2: missing a value on flag: "
     "--link")),
    ("FROM a\nCOPY --from=x --from=y a b\n", ("dockerfile parse error on line 2: duplicate flag "
     "specified: --from")),
    ("FROM a\nCOPY --link --link a b\n", ("dockerfile parse error on line 2: duplicate flag "
     "specified: --link")),
    ("FROM a\nRUN --mount x\n", ("dockerfile parse error on line 2: missing a value on flag: "
     "--mount")),
    ("FROM a\nRUN --network=bridge x\n", ("dockerfile parse error on line 2: invalid network "
     "mode \"bridge\"")),
    ("FROM a\nRUN --security=root x\n", ("dockerfile parse error on line 2: security \"root\" "
     "is not valid")),
    ("FROM a\nCOPY a <<EOF\nx\nEOF\n", ("dockerfile parse error on line 2: COPY cannot accept a "
     "heredoc as a destination")),
    # the first pass runs over the whole file before instructions are checked
    ("FROM a\nFOO\nENV x\n", "ENV must have two arguments"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors(text: str | bytes, message: str) -> None:
    assert error(text) == message


def test_empty_file_names_the_file() -> None:
    with pytest.raises(InvalidArgument, match=r"^the Dockerfile \(build/Dockerfile.dev\) "):
        parse(b"", "build/Dockerfile.dev")


def test_flags_some_instructions_do_not_check() -> None:
    # as buildkit: STOPSIGNAL, ARG and HEALTHCHECK NONE never look at their flags
    assert one("STOPSIGNAL --foo SIGKILL").flags == {"foo": [""]}
    assert one("ARG --foo a").args == [("a", None)]
    assert one("HEALTHCHECK --bogus NONE").test == ["NONE"]


# -- ONBUILD triggers --------------------------------------------------------------------

def test_parse_instruction() -> None:
    run = parse_instruction("RUN --mount=type=cache,target=/c make \\\n  all")
    assert isinstance(run, df.Run)
    assert run.cmd == ["make   all"] and run.mounts == ["type=cache,target=/c"]
    copy = parse_instruction("COPY . /app")
    assert isinstance(copy, df.Copy) and copy.sources == ["."]
    assert isinstance(parse_instruction("run dir c:\\ `\n x", escape="`"), df.Run)


@pytest.mark.parametrize(("line", "message"), [
    ("RUN a\nRUN b", "onbuild trigger should be a single expression"),
    ("", "file with no instructions"),
    ("FROM x", "*instructions.Stage is not a command type"),
    ("BOGUS x", "unknown instruction: BOGUS"),
    ("COPY x", ("COPY requires at least two arguments, but only one was provided. Destination "
     "could not be determined")),
])
def test_parse_instruction_errors(line: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        parse_instruction(line)
    assert str(e.value) == message


# -- health checks -----------------------------------------------------------------------

def test_healthcheck_config() -> None:
    h = one("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=1.5s "
            "--start-interval=2s --retries=3 CMD curl -f http://x/")
    assert df.healthcheck_config(h) == HealthConfig(
        Test=["CMD-SHELL", "curl -f http://x/"], Interval=90_000_000_000,
        Timeout=500_000_000, StartPeriod=1_500_000_000, StartInterval=2_000_000_000,
        Retries=3)
    none = one("HEALTHCHECK NONE")
    assert df.healthcheck_config(none) == HealthConfig(Test=["NONE"], Interval=0, Timeout=0,
                                                       StartPeriod=0, StartInterval=0, Retries=0)
    zero = one('HEALTHCHECK --interval=0 --timeout=0s CMD ["true"]')
    assert df.healthcheck_config(zero).Interval == 0
    assert df.healthcheck_config(zero).Test == ["CMD", "true"]


@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("1ns", 1), ("1us", 1000), ("1µs", 1000), ("3ms", 3_000_000), ("2s", 2 * 10**9),
    ("1m30s", 90 * 10**9), ("1h", 3600 * 10**9), ("1.5h", 5400 * 10**9), (".5s", 5 * 10**8),
    ("1.s", 10**9), ("+2s", 2 * 10**9), ("-1.5s", -15 * 10**8), ("1h2m3s4ms", 3723004000000),
])
def test_go_duration(text: str, ns: int) -> None:
    assert df.parse_go_duration(text) == ns


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("-", 'time: invalid duration "-"'),
    ("s", 'time: invalid duration "s"'),
    (".s", 'time: invalid duration ".s"'),
    ("1", 'time: missing unit in duration "1"'),
    ("1s2", 'time: missing unit in duration "1s2"'),
    ("3x", 'time: unknown unit "x" in duration "3x"'),
    ("9999999999999999999h", 'time: invalid duration "9999999999999999999h"'),
])
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        df.parse_go_duration(text)
    assert str(e.value) == message


def test_parse_heredoc_word() -> None:
    for word in ["<<EOF", "<<'EOF'", '<<"EOF"', "<<-EOF", "<<-'EOF'", '<<-"EOF"', '<<EO"F"',
                 "<< EOF", "<<- EOF"]:
        h = df.parse_heredoc(word)
        assert h is not None and h.name == "EOF", word
    for word in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"]:
        assert df.parse_heredoc(word) is None, word
    for word in ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']:
        with pytest.raises(InvalidArgument):
            df.parse_heredoc(word)
