"""The build cache record against docker's type."""

from __future__ import annotations

import msgspec

from dockling.builder.model import CacheRecord

# moby api/types/build/cache.go (CacheRecord), json names in Go's field order
CACHE_RECORD = ("ID", "Parent", "Parents", "Type", "Description", "InUse", "Shared", "Size",
                "CreatedAt", "LastUsedAt", "UsageCount")


def test_fields_are_dockers_in_go_order():
    assert tuple(CacheRecord.__struct_fields__) == CACHE_RECORD


def test_a_record_answers_every_key():
    doc = msgspec.to_builtins(CacheRecord(ID="abc", Type="regular", Size=3))
    assert list(doc) == list(CACHE_RECORD)
    assert doc["Parent"] == "" and doc["Parents"] is None
