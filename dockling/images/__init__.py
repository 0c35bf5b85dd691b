"""Images: references, the content store, the layer store and image records.

    reference.py  docker's reference grammar and normalization
    content.py    blobs by digest (ingest to tmp/, verify, rename)
    unpack.py     safe layer tar extraction, OCI whiteouts -> overlay whiteouts
    layers.py     unpacked layers by chain id, overlay mounts for containers
    store.py      image records and tags (SQLite)
    archive.py    import, save and load (docker-archive tars)
"""
