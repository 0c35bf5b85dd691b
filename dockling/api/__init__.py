"""The Engine API: translate HTTP in docker's shapes to engine calls and back.

server.py is the HTTP machinery; containers.py, images.py, system.py hold
the routes. Nothing here decides anything the engine should decide.
"""
