"""Credentials and the registry token dance.

A 401 carries ``WWW-Authenticate``: Basic (send the user and password) or
Bearer realm/service/scope (ask the realm for a token, with Basic
credentials when we have them, anonymously otherwise; a refresh token from
login is sent as a grant). Tokens are kept per scope for the transfer.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import httpx

from dockling.errors import Forbidden, InvalidArgument

_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""   # a refresh token (OAuth2), from login
    registry_token: str = ""   # a bearer token given as is

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.identity_token or self.registry_token)


def from_header(value: str | None) -> Credentials:
    """X-Registry-Auth: base64url JSON {username, password, identitytoken, ...}."""
    if not value:
        return Credentials()
    try:
        pad = "=" * (-len(value) % 4)
        doc = json.loads(base64.urlsafe_b64decode(value + pad))
    except (ValueError, TypeError):
        raise InvalidArgument("invalid X-Registry-Auth header") from None
    if not isinstance(doc, dict):
        return Credentials()
    return Credentials(doc.get("username") or "", doc.get("password") or "",
                       doc.get("identitytoken") or "", doc.get("registrytoken") or "")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


class Authenticator:
    """Authorization headers for one registry, per scope."""

    def __init__(self, http: httpx.AsyncClient, creds: Credentials) -> None:
        self.http = http
        self.creds = creds
        self.tokens: dict[str, str] = {}
        self.basic = False
        self.bearer: dict[str, str] = {}  # realm and service of the last Bearer challenge

    def header(self, scope: str) -> dict[str, str]:
        if self.creds.registry_token:
            return {"Authorization": f"Bearer {self.creds.registry_token}"}
        if scope in self.tokens:
            return {"Authorization": f"Bearer {self.tokens[scope]}"}
        if self.basic:
            return {"Authorization": _basic(self.creds)}
        return {}

    async def answer(self, challenge: str, scope: str) -> bool:
        """Handle a 401 challenge; True if a retry may now succeed."""
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.creds.anonymous or self.basic:
                return False
            self.basic = True
            return True
        if scheme != "bearer" or "realm" not in params or scope in self.tokens:
            return False
        self.bearer = params
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        headers = {}
        if self.creds.identity_token:
            resp = await self.http.post(params["realm"], data={
                "grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                "service": query["service"], "scope": scope, "client_id": "dockling"})
        else:
            if not self.creds.anonymous:
                headers["Authorization"] = _basic(self.creds)
            resp = await self.http.get(params["realm"], params=query, headers=headers)
        if resp.status_code in (401, 403):
            raise Forbidden(f"unauthorized: {_error_text(resp) or 'incorrect username or password'}")
        if resp.status_code != 200:
            return False
        try:
            doc = resp.json()
        except ValueError:
            return False
        token = doc.get("token") or doc.get("access_token")
        if not token:
            return False
        self.tokens[scope] = token
        return True


    async def refresh_token(self) -> str:
        """After a login against a token server: ask it (OAuth2, password grant) for a
        refresh token to keep instead of the password, as docker does; "" if it has none."""
        if not self.bearer or self.creds.anonymous:
            return ""
        try:
            resp = await self.http.post(self.bearer["realm"], data={
                "grant_type": "password", "username": self.creds.username,
                "password": self.creds.password, "service": self.bearer.get("service", ""),
                "client_id": "dockling", "access_type": "offline", "scope": ""})
        except httpx.HTTPError:
            return ""
        if resp.status_code != 200:
            return ""
        try:
            return resp.json().get("refresh_token") or ""
        except ValueError:
            return ""


def _basic(c: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{c.username}:{c.password}".encode()).decode()


def registry_errors(resp: httpx.Response) -> list[dict] | None:
    """The distribution spec's {"errors": [{code, message}]}; None if the body is not that."""
    try:
        return list(resp.json().get("errors") or [])
    except (ValueError, AttributeError):
        return None


def _error_text(resp: httpx.Response) -> str:
    errs = registry_errors(resp)
    if errs is None:
        return resp.text.strip()[:200]
    return "; ".join(e.get("message", "") for e in errs)
