"""The distribution (registry) client: pull, push, login.

endpoints.py (which URL and TLS settings serve a registry: Docker Hub's real
hosts, mirrors, insecure registries, certs.d), auth.py (credentials, bearer
tokens and basic auth), client.py (the HTTP API of one repository, with
retries, ranges and digest checks), manifests.py (media types, picking a
platform), pull.py and push.py (the transfers and docker's progress; its JSON
messages and their rendering are formats/progress.py, which the CLI shares).
"""
