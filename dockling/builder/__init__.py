"""Build: Dockerfiles become images.

dockerfile.py parses (instructions.py holds the typed instructions), expand.py
substitutes variables, ignore.py reads .dockerignore; executor.py runs the
steps, context.py receives the build context, cache.py keeps the build cache.
"""
