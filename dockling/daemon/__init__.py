"""The daemon: process entry, configuration, reconcile at start, events."""
