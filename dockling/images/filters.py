"""Which images ``docker images`` lists: docker's image filters.

dangling, reference (a glob on the name, with or without the tag), label,
before and since (created before/after another image). Values of one key are
OR-ed (label's AND-ed), keys are AND-ed.
"""

from __future__ import annotations

import fnmatch

from dockling.errors import NotFound
from dockling.filters import labels_match


def matches(img, filters: dict[str, list[str]], images) -> bool:
    for key, values in filters.items():
        if not values:
            continue
        if key == "dangling":
            want = values[-1].lower() in ("true", "1")
            if want != (not img.tags):
                return False
        elif key == "reference":
            names = [t.split(":")[0] for t in img.tags] + img.tags
            if not any(fnmatch.fnmatch(n, v) for v in values for n in names):
                return False
        elif key == "label":
            if not labels_match(img.container_config.Labels or {}, {"label": values}):
                return False
        elif key in ("before", "since"):
            try:
                other = images.load(images.resolve(values[-1]))
            except NotFound:
                return False
            if key == "before" and not img.created < other.created:
                return False
            if key == "since" and not img.created > other.created:
                return False
    return True
