"""dockling/filters.py and dockling/names.py: docker's label filters and name rule,
each in one place for every object kind."""

from __future__ import annotations

import pytest

from dockling import names
from dockling.filters import labels_match

LABELS = {"app": "web", "tier": "front", "empty": ""}


@pytest.mark.parametrize("filters, expected", [
    ({}, True),
    ({"label": ["app"]}, True),                      # the key alone
    ({"label": ["app=web"]}, True),                  # key and value
    ({"label": ["app=db"]}, False),
    ({"label": ["app", "tier=front"]}, True),        # every value must hold (AND)
    ({"label": ["app", "tier=back"]}, False),
    ({"label": ["empty="]}, True),                   # an empty value is a value
    ({"label": ["missing"]}, False),
    ({"label!": ["missing"]}, True),
    ({"label!": ["app"]}, False),                    # label! refuses the key
    ({"label!": ["app=db"]}, True),                  # ... or only that value
    ({"label!": ["app=web"]}, False),
    ({"label": ["app"], "label!": ["tier=back"]}, True),
    ({"label": ["app"], "label!": ["tier"]}, False),
    ({"name": ["x"]}, True),                         # other keys are not labels'
])
def test_label_filters(filters, expected):
    assert labels_match(LABELS, filters) is expected


@pytest.mark.parametrize("name, ok", [
    ("web", True), ("web-1.a_b", True), ("0ab", True),
    ("a", False),                 # docker: at least two characters
    ("-web", False), (".web", False), ("_web", False),
    ("we b", False), ("web/1", False), ("/web", False), ("", False), ("wéb", False),
])
def test_names(name, ok):
    assert names.valid(name) is ok
