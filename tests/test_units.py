"""dockling/units.py: go-units' printing, as docker's CLI prints sizes."""

from __future__ import annotations

from dockling.units import bytes_size, human_size, human_size4


def test_human_sizes():
    assert human_size4(2048) == "2.048kB"  # HumanSize: 4 significant digits
    assert human_size(2048) == "2.05kB"  # HumanSizeWithPrecision(n, 3)
    assert human_size4(999) == "999B" and human_size4(0) == "0B"
    assert human_size4(1_234_567_890) == "1.235GB"
    assert bytes_size(2048) == "2KiB"
