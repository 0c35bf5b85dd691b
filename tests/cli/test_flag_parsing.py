"""The CLI's flag parser (dockling/cli/flags.py): pflag's rules and words, and
wirejson, the client's JSON. No daemon needed."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from dockling.cli import flags
from dockling.cli.main import UsageError, build_parser, main
from dockling.client import wirejson


def parse(*argv: str):
    return build_parser(argv[0]).parse_args(list(argv))


def test_long_short_combined_and_equals_forms():
    a = parse("run", "--name=web", "-e", "A=1", "-eB=2", "-e=C", "-dit", "-p80:80",
              "--env", "D=4", "busybox")
    assert (a.name, a.env, a.publish) == ("web", ["A=1", "B=2", "C", "D=4"], ["80:80"])
    assert a.detach and a.interactive and a.tty


def test_the_first_argument_ends_runs_flags():
    a = parse("run", "--rm", "busybox", "ls", "-l", "--rm", "--", "-x")
    assert a.rm and a.image == "busybox" and a.command == ["ls", "-l", "--rm", "--", "-x"]
    a = parse("exec", "-i", "c1", "sh", "-c", "echo -n")
    assert a.interactive and a.container == "c1" and a.command == ["sh", "-c", "echo -n"]


def test_flags_and_arguments_mix_elsewhere():
    a = parse("rm", "c1", "-f", "c2")
    assert a.force and a.containers == ["c1", "c2"]


def test_a_flag_takes_the_next_argument_whatever_it_is():
    a = parse("stop", "-t", "-1", "c1")
    assert a.time == -1
    assert parse("run", "--entrypoint", "--weird", "busybox").entrypoint == "--weird"


def test_bool_flags_take_parse_bool_values():
    assert parse("build", "--rm=false", ".").rm is False
    assert parse("build", "--rm=0", ".").rm is False
    assert parse("build", "--no-cache=true", ".").no_cache is True
    assert parse("run", "-d=false", "busybox").detach is False
    assert parse("run", "busybox").init is None  # declared default=None stays None
    assert parse("run", "--init", "busybox").init is True


def test_defaults_are_not_shared_between_parses():
    parse("run", "-e", "A=1", "busybox")
    assert parse("run", "busybox").env == []


def test_dash_is_an_argument_and_double_dash_ends_flags():
    assert parse("build", "-").context == "-"
    assert parse("rm", "--", "-odd-name").containers == ["-odd-name"]


def test_subcommands_and_their_dest():
    a = parse("network", "ls", "-q")
    assert a.network_cmd == "ls" and a.quiet


@pytest.mark.parametrize("argv, message", [
    (["rm", "--bogus", "c"], "unknown flag: --bogus"),
    (["rm", "-z", "c"], "unknown shorthand flag: 'z' in -z"),
    (["rm", "-fz", "c"], "unknown shorthand flag: 'z' in -fz"),
    (["logs", "c", "--since"], "flag needs an argument: --since"),
    (["logs", "c", "-n"], "flag needs an argument: 'n' in -n"),
    (["rm"], '"dockling rm" requires at least 1 argument.'),
    (["rename", "a"], '"dockling rename" requires exactly 2 arguments.'),
    (["rename", "a", "b", "c"], '"dockling rename" requires exactly 2 arguments.'),
    (["commit", "a", "b", "c"], '"dockling commit" requires at least 1 and at most 2 arguments.'),
    (["stop", "-t", "soon", "c"],
     ('invalid argument "soon" for "-t, --time" flag: strconv.ParseInt: parsing '
      '"soon": invalid syntax')),
    (["exec", "c1"], '"dockling exec" requires at least 2 arguments.'),
    (["images", "a", "b"], '"dockling images" requires at most 1 argument.'),
    (["run", "-m", "inf", "busybox"], 'invalid argument "inf" for "-m, --memory" flag: invalid size'),
    (["run", "-e=", "busybox"], 'invalid argument "=" for "-e, --env" flag: invalid environment'),
    (["exec", "-e", "=1", "c", "sh"], "invalid environment variable: =1"),
    (["run", "--ulimit", "nofile=x", "busybox"],
     'invalid argument "nofile=x" for "--ulimit" flag: invalid ulimit argument: nofile=x'),
    (["build", "--rm=maybe", "."],
     'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe"'),
    (["run", "--pull", "sometimes", "busybox"],
     ("invalid argument \"sometimes\" for \"--pull\" flag: must be one of 'always', "
      "'missing', 'never'")),
    (["run", "--detac", "busybox"], "unknown flag: --detac"),  # never abbreviated
    (["frobnicate"], "'frobnicate' is not a dockling command."),
])
def test_docker_words_for_bad_input(argv, message):
    with pytest.raises(UsageError) as err:
        parse(*argv)
    assert message in str(err.value)
    assert "See 'dockling" in str(err.value)


@pytest.mark.parametrize("argv, code", [
    (["ps", "--bogus"], 125), (["run", "--bogus", "busybox"], 125),  # a flag: 125
    (["rm"], 1), (["run"], 1), (["frobnicate"], 1),  # the arguments: 1, run's too
])
def test_exit_codes_are_dockers(argv, code, capsys):
    assert main(argv) == code
    assert "See 'dockling" in capsys.readouterr().err


def test_exec_stops_at_the_container_and_wants_a_command():
    a = parse("exec", "-t", "c1", "ls", "-t")
    assert a.tty and a.container == "c1" and a.command == ["ls", "-t"]


def test_dockers_bool_flags_take_no_value():
    a = parse("commit", "-p", "c1", "repo:tag")
    assert (a.pause, a.container, a.reference) == (True, "c1", "repo:tag")
    assert parse("commit", "--pause=false", "c1").pause is False
    assert parse("history", "-H", "img").human is True
    assert parse("attach", "--sig-proxy", "c1").container == "c1"


def test_a_lone_equals_sign_is_the_value():
    p = flags.ArgumentParser(prog="x", add_help=False)
    p.add_argument("-e", action="append", default=[])
    assert p.parse_args(["-e=", "-e=a=b", "-ec"]).e == ["=", "a=b", "c"]


def test_what_the_parser_does_not_do_is_refused_when_declared():
    p = flags.ArgumentParser(prog="x")
    for kwargs in ({"action": "count"}, {"action": "extend"}, {"nargs": 2}):
        with pytest.raises(ValueError, match="not supported"):
            p.add_argument("--x", **kwargs)


def test_help_lists_flags_and_usage(capsys):
    with pytest.raises(SystemExit) as done:
        parse("rm", "--help")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage:  dockling rm [OPTIONS] CONTAINERS [CONTAINERS...]")
    assert "  -f, --force" in out and "  -v, --volumes" in out
    with pytest.raises(SystemExit):
        parse("stop", "--help")
    assert "  -t, --time int" in capsys.readouterr().out


def test_suppressed_flags_are_not_listed():
    p = flags.ArgumentParser(prog="x", add_help=False)
    p.add_argument("--shown", help="yes")
    p.add_argument("--hidden", help=flags.SUPPRESS)
    text = p.format_help()
    assert "--shown" in text and "--hidden" not in text


def test_the_cli_no_longer_loads_re_or_json():
    """What the parser and wirejson are for: a command's start without re's import."""
    code = ("import sys; from dockling.cli.main import build_parser; "
            "build_parser('exec').parse_args(['exec', '-it', 'c', 'sh']); "
            "build_parser('images').parse_args(['images']); "
            "build_parser('rmi').parse_args(['rmi', 'x']); "
            "build_parser('ps').parse_args(['ps', '-a']); "
            "from dockling.client import wirejson; wirejson.loads(wirejson.dumps({'a': [1]})); "
            "print(sorted(m for m in ('re', 'json', 'argparse', 'enum') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("doc", [
    {"a": [1, 2.5, None, True, False, "é\"\\\n"], "b": {}, "c": -0.0},
    [], "x", 10**30, 1e100, {"nested": [{"x": [[]]}]},
])
def test_wirejson_matches_json(doc):
    text = wirejson.dumps(doc)
    assert text == json.dumps(doc)
    assert wirejson.loads(text.encode()) == json.loads(text)
    assert wirejson.loads(" \n" + text + "\r\n") == json.loads(text)


def test_wirejson_nan_and_errors():
    assert math.isnan(wirejson.loads("NaN"))
    for bad in ("", "{", "{} x", "nul", '{"a": 1,}'):
        with pytest.raises(json.JSONDecodeError):
            wirejson.loads(bad)
    with pytest.raises(TypeError, match="not JSON serializable"):
        wirejson.dumps({"a": object()})


def test_run_flags_docker_scripts_use(tmp_path):
    from dockling.cli import containers

    (tmp_path / "labels").write_text("a=1\n# a comment\nb=2\n")
    a = parse("run", "--label-file", str(tmp_path / "labels"), "-l", "c=3", "--runtime", "runc",
              "--oom-score-adj", "-500", "--platform", "linux/amd64", "-q",
              "--disable-content-trust=false", "busybox")
    body = containers._body(a)
    assert body["Labels"] == {"a": "1", "b": "2", "c": "3"}
    assert body["HostConfig"]["Runtime"] == "runc"
    assert body["HostConfig"]["OomScoreAdj"] == -500
    assert (a.platform, a.quiet) == ("linux/amd64", True)


def test_a_cidfile_that_exists_is_refused(tmp_path):
    from dockling.cli import containers

    path = tmp_path / "cid"
    f = containers._cidfile(str(path))
    f.close()
    with pytest.raises(UsageError, match="container ID file found"):
        containers._cidfile(str(path))


def test_a_management_command_alone_shows_its_own_help(capsys):
    assert main(["network"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage:  dockling network COMMAND") and "  connect" in out


def test_string_slices_split_on_commas():
    a = parse("network", "connect", "--alias", "a,b", "--alias", "c", "net", "ctr")
    assert a.alias == ["a", "b", "c"]
    assert parse("network", "create", "--subnet", "10.1.0.0/24,10.2.0.0/24", "n").subnet == [
        "10.1.0.0/24", "10.2.0.0/24"]
    assert parse("build", "--cache-from", "a,b", ".").cache_from == ["a", "b"]


@pytest.mark.parametrize("value, want", [("10", 10), ("0x10", 16), ("010", 8), ("-1", -1),
                                         ("0b11", 3), ("1_000", 1000)])
def test_ints_are_gos_parse_int_base_0(value, want):
    assert parse("stop", "-t", value, "c").time == want


def test_more_of_dockers_flags_and_names():
    assert parse("run", "-a", "Stdout", "busybox").attach == ["stdout"]
    assert parse("image", "remove", "x").images == ["x"]
    assert parse("image", "rmi", "x").images == ["x"]
    a = parse("restart", "-s", "KILL", "--timeout", "3", "c")
    assert (a.signal, a.time) == ("KILL", 3)
    assert parse("logs", "--details", "c").details is True
    assert parse("exec", "--env-file", "f", "c", "sh").env_file == ["f"]


def test_global_flags_before_the_command():
    a = build_parser("ps").parse_args(["--log-level", "debug", "-D", "--config", "/x", "ps"])
    assert (a.cmd, a.root_log_level, a.root_debug, a.root_config) == ("ps", "debug", True, "/x")


def test_help_command_and_management_groups(capsys):
    with pytest.raises(SystemExit):
        main(["help", "rm"])
    assert capsys.readouterr().out.startswith("Usage:  dockling rm")
    assert main(["container"]) == 0
    assert "  ls\n" in capsys.readouterr().out
    assert main(["container", "bogus"]) == 1
    assert "unknown command: dockling container bogus" in capsys.readouterr().err
    assert main(["-c", "elsewhere", "ps"]) == 1
    assert 'context "elsewhere" does not exist' in capsys.readouterr().err
