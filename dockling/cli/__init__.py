"""The dockling command line: docker's commands over the Engine API."""
