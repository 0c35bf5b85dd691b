"""Images: the content store, the layer store and image records.
(References and the layer tar format, shared with the CLI, are in dockling/formats/.)

    content.py    blobs by digest (ingest to tmp/, verify, rename)
    layers.py     unpacked layers by chain id, overlay mounts for containers
    store.py      image records and tags (SQLite)
    archive.py    import, save and load (docker-archive tars)
"""
