"""Tests for dockling.builder.ignore: .dockerignore as docker reads it.

The match tables are moby/patternmatcher's own cases (TestMatches and the
filepath.Match cases it borrows from Go), ported as data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockling.formats.dockerignore import Matcher, read_patterns
from dockling.errors import InvalidArgument

# (pattern, path, ignored)
MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
    # a directory pattern ignores what is inside
    ("docs", "docs/README.md", True),
    ("docs/", "docs/README.md", True),
    ("*.go", "fileutils.go", True),
    ("*", "fileutils.go", True),
]


@pytest.mark.parametrize(("pattern", "path", "ignored"), MATCHES)
def test_matches(pattern: str, path: str, ignored: bool) -> None:
    assert Matcher([pattern]).matches(path) is ignored


MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
]


@pytest.mark.parametrize(("patterns", "path", "ignored"), MULTI)
def test_exceptions(patterns: list[str], path: str, ignored: bool) -> None:
    assert Matcher(patterns).matches(path) is ignored


# Go's filepath.Match cases as patternmatcher runs them: (pattern, path, ignored or None
# when the pattern is malformed)
GO_MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", True),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("[]a]", "]", None),
    ("[-]", "-", None),
    ("[x-]", "x", None),
    ("[-x]", "x", None),
    ("\\", "a", None),
    ("[a-b-c]", "a", None),
    ("[", "a", None),
    ("[^", "a", None),
    ("[^bc", "a", None),
    ("a[", "a", None),
    ("a[", "ab", None),
    ("*x", "xxx", True),
]


@pytest.mark.parametrize(("pattern", "path", "ignored"), GO_MATCH)
def test_go_match_cases(pattern: str, path: str, ignored: bool | None) -> None:
    if ignored is None:
        with pytest.raises(InvalidArgument, match=r"^syntax error in pattern$"):
            Matcher([pattern])
    else:
        assert Matcher([pattern]).matches(path) is ignored


def test_bad_pattern_found_when_used() -> None:
    # valid for filepath.Match, not as a regexp ("l-O" is a reversed range):
    # patternmatcher accepts it and fails at the first match
    m = Matcher(["[Local-Only]/"])
    with pytest.raises(InvalidArgument, match=r"^syntax error in pattern$"):
        m.matches("x")


def test_lone_exclamation_mark() -> None:
    with pytest.raises(InvalidArgument) as e:
        Matcher(["!"])
    assert str(e.value) == 'illegal exclusion pattern: "!"'


def test_context_root_never_matches() -> None:
    assert Matcher(["*", "**"]).matches(".") is False
    assert Matcher(["**"]).matches("./") is False


def test_no_patterns() -> None:
    m = Matcher([])
    assert not m.matches("/any/path/there")
    assert not m.exclusions


def test_patterns_trimmed_and_empty_dropped() -> None:
    m = Matcher(["docs", "  !docs/README.md  ", "", "   "])
    assert m.exclusions
    assert m.matches("docs/x")
    assert not m.matches("docs/README.md")


@pytest.mark.parametrize(("text", "patterns"), [
    ("", []),
    ("# comment\nfoo\n", ["foo"]),
    ("  foo  \n\n\tbar/\n", ["foo", "bar"]),
    ("/abs/path\n!/abs/keep\n", ["abs/path", "!abs/keep"]),
    ("a/../b\n./c\nd//e/\n", ["b", "c", "d/e"]),
    ("! spaced \n", ["!spaced"]),
    ("!\n", ["!"]),
    ("/\n", ["/"]),
    ("  # not a comment\n", ["# not a comment"]),
    ("\ufeff*.tmp\r\nbuild\r\n", ["*.tmp", "build"]),
    ("**/node_modules\n", ["**/node_modules"]),
])
def test_read_patterns(text: str, patterns: list[str]) -> None:
    assert read_patterns(text) == patterns


def _tree(root: Path, paths: list[str]) -> None:
    for p in paths:
        target = root / p
        if p.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(p)


def test_walk_lists_everything_without_patterns(tmp_path: Path) -> None:
    _tree(tmp_path, ["b.txt", "a/x", "a/y/z", "a.txt", "empty/"])
    assert list(Matcher([]).walk(str(tmp_path))) == [
        "a", "a/x", "a/y", "a/y/z", "a.txt", "b.txt", "empty"]


def test_walk_skips_excluded_files_and_dirs(tmp_path: Path) -> None:
    _tree(tmp_path, ["keep.txt", "x.log", "node_modules/m/index.js", "src/a.log", "src/a.py"])
    m = Matcher(read_patterns("*.log\nnode_modules\n"))
    assert list(m.walk(str(tmp_path))) == ["keep.txt", "src", "src/a.log", "src/a.py"]
    m = Matcher(read_patterns("**/*.log\nnode_modules\n"))
    assert list(m.walk(str(tmp_path))) == ["keep.txt", "src", "src/a.py"]


def test_walk_enters_excluded_dir_for_an_exception(tmp_path: Path) -> None:
    _tree(tmp_path, ["docs/README.md", "docs/other.md", "docs/sub/deep.md", "top.md"])
    m = Matcher(read_patterns("docs\n!docs/README.md\n"))
    # the directory itself is not listed, only what is re-included in it
    assert list(m.walk(str(tmp_path))) == ["docs/README.md", "top.md"]


def test_walk_exception_deeper_down(tmp_path: Path) -> None:
    _tree(tmp_path, ["vendor/a/keep/x", "vendor/a/drop/y", "vendor/b/z"])
    m = Matcher(read_patterns("vendor\n!vendor/a/keep\n"))
    assert list(m.walk(str(tmp_path))) == ["vendor/a/keep", "vendor/a/keep/x"]


def test_walk_wildcard_exception_does_not_enter(tmp_path: Path) -> None:
    # docker only enters a skipped directory when an exception's text starts
    # with its path: "!*/keep" does not bring dir/keep back
    _tree(tmp_path, ["dir/keep", "dir/drop"])
    m = Matcher(read_patterns("dir\n!*/keep\n"))
    assert m.matches("dir/keep") is False
    assert list(m.walk(str(tmp_path))) == []


def test_walk_everything_but(tmp_path: Path) -> None:
    _tree(tmp_path, ["Dockerfile", "app/main.py", "app/test.py", "junk/x"])
    m = Matcher(read_patterns("*\n!app/main.py\n!Dockerfile\n"))
    assert list(m.walk(str(tmp_path))) == ["Dockerfile", "app/main.py"]


def test_walk_does_not_follow_symlinks(tmp_path: Path) -> None:
    _tree(tmp_path, ["real/file", "outside/secret"])
    os.symlink(tmp_path / "real", tmp_path / "link")
    os.symlink("/nonexistent", tmp_path / "dangling")
    m = Matcher(read_patterns("outside\n"))
    assert list(m.walk(str(tmp_path))) == ["dangling", "link", "real", "real/file"]
    m = Matcher(read_patterns("outside\nlink\n!link/file\n"))
    assert list(m.walk(str(tmp_path))) == ["dangling", "real", "real/file"]
