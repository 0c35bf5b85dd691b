import pytest

from dockling.errors import InvalidArgument
from dockling.formats.reference import looks_like_id_prefix, parse


@pytest.mark.parametrize("given, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("centos", "docker.io/library/centos:latest", "centos:latest"),
    ("centos:latest", "docker.io/library/centos:latest", "centos:latest"),
    ("docker.io/library/centos:latest", "docker.io/library/centos:latest", "centos:latest"),
    ("index.docker.io/library/centos", "docker.io/library/centos:latest", "centos:latest"),
    ("user/app:1.0", "docker.io/user/app:1.0", "user/app:1.0"),
    ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("127.0.0.1:5000/a/b/c:v2", "127.0.0.1:5000/a/b/c:v2", "127.0.0.1:5000/a/b/c:v2"),
    ("reg.example.com/ns/app", "reg.example.com/ns/app:latest", "reg.example.com/ns/app:latest"),
    ("app@sha256:" + "a" * 64, "docker.io/library/app@sha256:" + "a" * 64,
     "app@sha256:" + "a" * 64),
])
def test_normalize(given, full, familiar):
    ref = parse(given)
    assert str(ref) == full
    assert ref.familiar == familiar


@pytest.mark.parametrize("bad", ["", "UPPER", "a:b:c", "-lead", "a//b", "app:", "app@sha256:x",
                                 "a" * 300])
def test_invalid(bad):
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        parse(bad)


def test_uppercase_message():
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        parse("Busybox")


def test_id_prefix():
    assert looks_like_id_prefix("abc123")
    assert looks_like_id_prefix("sha256:abc")
    assert not looks_like_id_prefix("busybox")
