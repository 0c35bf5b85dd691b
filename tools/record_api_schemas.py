"""Record the key sets of the Engine API's answers from moby's swagger, for
tests/api/test_complete_json.py.

docker's answers carry every key of their Go structs (empty, zero or null); the
API reference (moby's api/docs/v1.NN.yaml, the version dockling serves) names them.
This reads that file from the moby mirror (a bare git dir, or a path given with
--spec) and writes tests/api/fixtures/api_schemas.json: for each answer, a tree of
its keys. A key maps to null (a scalar or a map with free-form keys), to an object
of its own keys (a nested object), to {"[]": tree} (an array of objects) or to
{"{}": tree} (a map whose values are objects, e.g. NetworkSettings.Networks).
The fixture is data derived from the spec; rerun this to refresh it.

    python3 tools/record_api_schemas.py            # needs PyYAML (Debian: python3-yaml)
    python3 tools/record_api_schemas.py --check    # compare, write nothing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(HERE, "tests", "api", "fixtures", "api_schemas.json")
MIRROR = "/work/.mirror/moby+moby/repo"
API_VERSION = "1.47"  # dockling/api/server.py's API_VERSION: the spec of what we serve

# answer name -> where its schema is in the spec: a definition, or a path's 200 answer
ANSWERS = {
    "ContainerInspectResponse": ("path", "/containers/{id}/json", "get"),
    "ContainerSummary": ("definition", "ContainerSummary"),
    "ImageInspect": ("definition", "ImageInspect"),
    "ImageSummary": ("definition", "ImageSummary"),
    "Network": ("definition", "Network"),
    "Volume": ("definition", "Volume"),
    "VolumeListResponse": ("definition", "VolumeListResponse"),
    "SystemInfo": ("definition", "SystemInfo"),
    "SystemVersion": ("definition", "SystemVersion"),
}


def load_spec(spec_path: str | None, mirror: str) -> tuple[dict, str]:
    if spec_path:
        with open(spec_path) as f:
            return yaml.safe_load(f), spec_path
    rel = f"api/docs/v{API_VERSION}.yaml"
    commit = subprocess.run(["git", "--git-dir", mirror, "rev-parse", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    text = subprocess.run(["git", "--git-dir", mirror, "show", f"{commit}:{rel}"],
                          capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(text), f"moby/moby {rel} at {commit}"


class Walker:
    """Schema -> key tree; $ref and allOf resolved, cycles cut."""

    def __init__(self, spec: dict) -> None:
        self.defs = spec["definitions"]

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def properties(self, schema: dict) -> dict:
        schema = self.resolve(schema)
        props: dict = {}
        for part in schema.get("allOf", []):
            props.update(self.properties(part))
        props.update(schema.get("properties") or {})
        return props

    def tree(self, schema: dict, seen: tuple[str, ...] = ()):
        ref = schema.get("$ref", "")
        if ref in seen:
            return None
        seen = (*seen, ref) if ref else seen
        schema = self.resolve(schema)
        props = self.properties(schema)
        if props:
            return {k: self.tree(v, seen) for k, v in props.items()}
        if schema.get("type") == "array" and "items" in schema:
            sub = self.tree(schema["items"], seen)
            return {"[]": sub} if sub else None
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            sub = self.tree(extra, seen)
            return {"{}": sub} if sub else None
        return None


def record(spec: dict, source: str) -> dict:
    w = Walker(spec)
    out = {}
    for name, where in ANSWERS.items():
        if where[0] == "definition":
            schema = w.defs[where[1]]
        else:
            schema = spec["paths"][where[1]][where[2]]["responses"][200]["schema"]
        out[name] = w.tree(schema)
    return {"source": source, "api_version": API_VERSION, "answers": out}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", help="a swagger YAML file instead of the moby mirror's")
    ap.add_argument("--mirror", default=MIRROR, help="moby's bare git dir")
    ap.add_argument("--check", action="store_true", help="report differences, write nothing")
    a = ap.parse_args()
    doc = record(*load_spec(a.spec, a.mirror))
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if a.check:
        try:
            with open(FIXTURE) as f:
                old_answers = json.load(f)["answers"]
        except FileNotFoundError:
            old_answers = None
        same = old_answers == doc["answers"]
        print("up to date" if same else f"{FIXTURE} differs from the spec")
        return 0 if same else 1
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w") as f:
        f.write(text)
    print(f"wrote {FIXTURE} from {doc['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
