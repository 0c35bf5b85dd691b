"""Go's encoding/json, as docker's daemon decodes a request body into its types.

``convert`` turns a JSON document (already parsed) into a msgspec Struct the way
Go's decoder fills a struct: keys match fields exactly, else ignoring case; a null
leaves a field at its zero value; unknown keys are ignored; a wrong type is an
error (docker's 400). Used at the API's door, by the library front door, and for
records an older dockling stored (which may hold nulls where a field is typed now).
"""

from __future__ import annotations

import functools

import msgspec
import msgspec.inspect

from dockling.errors import InvalidArgument


def convert(doc, kind: type, private: bool = False):
    """``doc`` decoded into the Struct ``kind`` as Go's encoding/json decodes into
    docker's type: keys matched to fields exactly, else ignoring case; a null leaves a
    field at its zero value; an unknown key is ignored (and so is a field dockling
    keeps private: one that starts with ``_``, unless ``private``: a record of its own);
    a wrong type is docker's 400."""
    try:
        return msgspec.convert(_go_nulls(doc, _type_info(kind), private), kind)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"json: cannot unmarshal: {err}") from None


@functools.cache
def _type_info(kind: type):
    return msgspec.inspect.type_info(kind)


def _go_nulls(value, t, private: bool):
    """``value`` without what Go's decoder would not set: nulls of fields that cannot
    be null here (Go leaves them zero), unknown and private keys."""
    if isinstance(t, msgspec.inspect.UnionType):
        inner = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        if len(inner) != 1:
            return value
        t = inner[0]
    if isinstance(t, msgspec.inspect.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f for f in t.fields}
        folded = {f.encode_name.lower(): f for f in t.fields}
        out = {}
        for k, v in value.items():
            # Go matches a key to a field exactly, else ignoring case (exact wins)
            f = fields.get(k) or folded.get(k.lower())
            if f is None or (f.encode_name.startswith("_") and not private) or \
                    f.encode_name in out and \
                    f.encode_name != k or (v is None and not _nullable(f.type)):
                continue
            out[f.encode_name] = _go_nulls(v, f.type, private)
        return out
    if isinstance(t, msgspec.inspect.ListType) and isinstance(value, list):
        return [_go_nulls(v, t.item_type, private) for v in value]
    if isinstance(t, msgspec.inspect.DictType) and isinstance(value, dict):
        return {k: _go_nulls(v, t.value_type, private) for k, v in value.items()}
    return value


def _nullable(t) -> bool:
    return isinstance(t, msgspec.inspect.UnionType) and any(
        isinstance(x, msgspec.inspect.NoneType) for x in t.types)
