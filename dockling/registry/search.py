"""docker search: the v1 search API of Docker Hub (index.docker.io), or of the
registry named in the term (``127.0.0.1:5000/busy`` searches that host)."""

from __future__ import annotations

import httpx

from dockling.errors import InvalidArgument
from dockling.registry.client import TIMEOUT
from dockling.registry.endpoints import RegistryConfig

HUB_INDEX = "index.docker.io"


def split_term(term: str) -> tuple[str, str]:
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return HUB_INDEX, term


async def search(config: RegistryConfig, term: str, limit: int = 25) -> list[dict]:
    if not 1 <= limit <= 100:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, 100]")
    host, query = split_term(term)
    last = None
    for ep in config.endpoints(host):
        async with httpx.AsyncClient(verify=ep.verify, timeout=TIMEOUT,
                                     trust_env=False) as http:
            try:
                resp = await http.get(f"{ep.url}/v1/search", params={"q": query, "n": limit})
            except httpx.HTTPError as err:
                last = err
                continue
        if resp.status_code != 200:
            raise InvalidArgument(f"Unexpected status code {resp.status_code}")
        return [{"name": r.get("name", ""), "description": r.get("description") or "",
                 "star_count": int(r.get("star_count") or 0),
                 "is_official": bool(r.get("is_official")),
                 "is_automated": bool(r.get("is_automated"))}
                for r in (resp.json().get("results") or [])][:limit]
    raise InvalidArgument(f"Get \"https://{host}/v1/search\": {last}")
