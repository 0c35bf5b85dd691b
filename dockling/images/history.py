"""docker history: an image's history entries, newest first, with layer sizes.

Entries marked ``empty_layer`` made no layer (size 0); the others take the
image's layers in order, from the last. Only the newest entry names the image
(the rest are ``<missing>``, as docker shows them for pulled images).
"""

from __future__ import annotations

from dockling import clock
from dockling.images.model import HistoryItem


def history(images, ref: str) -> list[HistoryItem]:
    img = images.get(ref)
    hist = img.config.history or []
    sizes = [images.layers.get(c).size for c in images.layers.chain(img.diff_ids)]
    with_layer = len([x for x in hist if not x.empty_layer])
    out = []
    layer = 0
    for i, h in enumerate(reversed(hist)):
        size = 0
        if not h.empty_layer:
            idx = with_layer - 1 - layer
            size = sizes[idx] if 0 <= idx < len(sizes) else 0
            layer += 1
        out.append(HistoryItem(Id=img.id if i == 0 else "<missing>",
                               Created=int(clock.unix(h.created or img.created)),
                               CreatedBy=h.created_by, Tags=img.tags if i == 0 else None,
                               Size=size, Comment=h.comment))
    return out
