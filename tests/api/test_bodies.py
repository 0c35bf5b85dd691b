"""Request bodies at the API's door: read as Go's decoder reads them."""

from __future__ import annotations

import pytest

from dockling.api.containers import _commit_config
from dockling.errors import InvalidArgument


def test_commit_config_as_go_reads_it():
    assert _commit_config({}) is None
    # a null leaves the container's value; a string command is a list of one
    assert _commit_config({"Cmd": "sh", "Env": None, "User": "nobody"}) == {
        "Cmd": ["sh"], "User": "nobody"}
    with pytest.raises(InvalidArgument, match="json: cannot unmarshal"):
        _commit_config({"Tty": "yes"})
