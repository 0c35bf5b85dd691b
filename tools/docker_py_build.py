#!/usr/bin/env python3
"""Run docker-py's own build tests against a private dockling daemon: the build subset
of tools/docker_py_suite.py (api_build_test.py and the build tests of
models_images_test.py), with a longer time limit per test.

    sudo .venv/bin/python tools/docker_py_build.py /path/to/docker-py [options of docker_py_suite]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from docker_py_suite import main  # noqa: E402 - tools/ is not a package

# models_images_test.py: only the build tests (the others pull from Docker Hub)
MODELS_BUILD = ["test_build", "test_build_with_error", "test_build_with_multiple_success",
                "test_build_with_success_build_output"]
TESTS = ["tests/integration/api_build_test.py",
         *(f"tests/integration/models_images_test.py::ImageCollectionTest::{t}"
           for t in MODELS_BUILD)]

if __name__ == "__main__":
    args = sys.argv[1:]
    checkout = [a for a in args[:1] if not a.startswith("-")]
    sys.exit(main([*checkout, *TESTS, "--timeout", "300",
                   "--log", "/tmp/docker-py-build-daemon.log", *args[len(checkout):]]))
