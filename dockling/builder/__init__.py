"""Build: Dockerfiles become images.

dockerfile.py parses (instructions.py holds the typed instructions), expand.py
substitutes variables (.dockerignore is read by formats/dockerignore.py, shared
with the CLI); executor.py runs the
steps, context.py receives the build context, cache.py keeps the build cache.
"""
