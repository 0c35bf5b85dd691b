"""Volumes: the local driver's named and anonymous volumes (store.py), and the
bind/volume/tmpfs mount points of a container (mounts.py)."""
