"""Authorization codes, access tokens and rotating refresh tokens: issued, looked up, used once, revoked.

Only the SHA-256 of a code or token is stored (they are bearer secrets); the string itself exists only in the
answer that hands it out. Every grant starts a *family* (one sign-in by one person for one client and agent):

    code ──exchange──▶ access + refresh ──refresh──▶ access' + refresh' ──refresh──▶ ...

A refresh token works once. Presenting one again (a stolen copy, or a replay after rotation), or an
authorization code a second time, revokes the whole family, the live access tokens included (OAuth 2.1 §4.3.1,
RFC 6749 §4.1.2). Revocation is a flag on the family, which every token checks.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from mcp.server.auth.provider import AccessToken, AuthorizationCode, RefreshToken
from mcp.shared.auth import OAuthToken

from zbmcp.audit.oauth import note
from zbmcp.oauth_server.records import Records

CODE_SECONDS = 120
USED_MARK_SECONDS = 86400  # how long a used code or refresh token is remembered, to catch a replay

CODES, USED_CODES = "oauth_codes", "oauth_used_codes"
ACCESS, REFRESH, USED_REFRESH = "oauth_access", "oauth_refresh", "oauth_used_refresh"
FAMILIES = "oauth_families"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Code(AuthorizationCode):
    agent: str
    person: str  # the signed-in person's email; subject is their Zoho user id


class Refresh(RefreshToken):
    agent: str
    person: str
    family: str


class Access(AccessToken):
    agent: str
    person: str
    family: str


class TokenService:
    def __init__(self, store: Records, *, access_seconds: int, refresh_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds
        self._clock = clock

    # -- authorization codes ------------------------------------------------------------------------------

    async def issue_code(self, *, client_id: str, redirect_uri: str, redirect_uri_provided_explicitly: bool,
                         code_challenge: str, scopes: list[str], resource: str, subject: str, agent: str,
                         person: str) -> str:
        code = secrets.token_urlsafe(32)
        record = {"client_id": client_id, "redirect_uri": redirect_uri,
                  "redirect_uri_provided_explicitly": redirect_uri_provided_explicitly,
                  "code_challenge": code_challenge, "scopes": scopes, "resource": resource,
                  "subject": subject, "agent": agent, "person": person,
                  "expires_at": self._clock() + CODE_SECONDS}
        await self._store.put(CODES, digest(code), record, ttl=CODE_SECONDS)
        return code

    async def load_code(self, code: str) -> Code | None:
        record = await self._store.get(CODES, digest(code))
        if record is None:
            used = await self._store.get(USED_CODES, digest(code))
            if used is not None:
                await self._note_family(used["family"])
                await self.revoke_family(used["family"])
                note("authorization code used a second time: the tokens it gave were revoked")
            else:
                note("unknown or expired authorization code")
            return None
        # whoever fails the checks that follow (PKCE...)
        note(person=record["person"], agent=record["agent"], client=record["client_id"])
        if record["expires_at"] <= self._clock():
            note("authorization code expired")
            return None
        return Code.model_validate({**record, "code": code})

    async def exchange_code(self, code: Code) -> tuple[OAuthToken, Access] | None:
        """The tokens for a code, once; None if another request used it first (the family is then revoked)."""
        taken = await self._store.take(CODES, digest(code.code))
        if taken is None:
            used = await self._store.get(USED_CODES, digest(code.code))
            if used is not None:
                await self._note_family(used["family"])
                await self.revoke_family(used["family"])
            note("authorization code used a second time: the tokens it gave were revoked")
            return None
        family = secrets.token_urlsafe(16)
        await self._store.put(USED_CODES, digest(code.code), {"family": family}, ttl=USED_MARK_SECONDS)
        await self._store.put(FAMILIES, family, {"client_id": code.client_id, "subject": code.subject,
                                                 "agent": code.agent, "person": code.person,
                                                 "revoked": False},
                              ttl=self.refresh_seconds + USED_MARK_SECONDS)
        return await self._issue(family, code.client_id, code.scopes, code.resource or "", code.subject or "",
                                 code.agent, code.person, refresh_scopes=code.scopes)

    # -- access and refresh tokens ------------------------------------------------------------------------

    async def _issue(self, family: str, client_id: str, scopes: list[str], resource: str, subject: str,
                     agent: str, person: str, *, refresh_scopes: list[str]) -> tuple[OAuthToken, Access]:
        now = self._clock()
        access_token = "zbat_" + secrets.token_urlsafe(32)
        refresh_token = "zbrt_" + secrets.token_urlsafe(32)
        common = {"client_id": client_id, "resource": resource, "subject": subject, "agent": agent,
                  "person": person, "family": family}
        access_expires = int(now + self.access_seconds)
        # Kept past expiry, so a late use is refused as "expired" rather than "unknown".
        await self._store.put(ACCESS, digest(access_token), {**common, "scopes": scopes,
                                                             "expires_at": access_expires},
                              ttl=self.access_seconds + USED_MARK_SECONDS)
        await self._store.put(REFRESH, digest(refresh_token), {**common, "scopes": refresh_scopes,
                                                               "expires_at": int(now + self.refresh_seconds)},
                              ttl=self.refresh_seconds)
        answer = OAuthToken(access_token=access_token, expires_in=self.access_seconds, scope=" ".join(scopes),
                            refresh_token=refresh_token)
        return answer, Access.model_validate({**common, "token": "", "scopes": scopes,
                                              "expires_at": access_expires})

    async def load_access(self, token: str) -> Access | None:
        record = await self._store.get(ACCESS, digest(token))
        if record is None:
            note("unknown access token")
            return None
        note(person=record["person"], agent=record["agent"], client=record["client_id"])
        if record["expires_at"] <= self._clock():
            note("access token expired")
            return None
        if not await self._family_alive(record["family"]):
            note("access token revoked")
            return None
        return Access.model_validate({**record, "token": ""})

    async def load_refresh(self, token: str) -> Refresh | None:
        record = await self._store.get(REFRESH, digest(token))
        if record is None:
            used = await self._store.get(USED_REFRESH, digest(token))
            if used is not None:
                await self._note_family(used["family"])
                await self.revoke_family(used["family"])
                note("refresh token used again after it was rotated: every token of that sign-in was revoked")
            else:
                note("unknown or expired refresh token")
            return None
        note(person=record["person"], agent=record["agent"], client=record["client_id"])
        if not await self._family_alive(record["family"]):
            note("refresh token revoked")
            return None
        return Refresh.model_validate({**record, "token": token})

    async def rotate(self, refresh: Refresh, scopes: list[str]) -> tuple[OAuthToken, Access] | None:
        """New tokens for a refresh token, which dies; None if it was used concurrently
        (the family is revoked)."""
        await self._store.put(USED_REFRESH, digest(refresh.token), {"family": refresh.family},
                              ttl=USED_MARK_SECONDS)
        if await self._store.take(REFRESH, digest(refresh.token)) is None:
            await self.revoke_family(refresh.family)
            note("refresh token used twice at once: every token of that sign-in was revoked")
            return None
        return await self._issue(refresh.family, refresh.client_id, scopes, refresh.resource or "",
                                 refresh.subject or "", refresh.agent, refresh.person,
                                 refresh_scopes=refresh.scopes)

    # -- families -----------------------------------------------------------------------------------------

    async def family(self, family: str) -> dict[str, Any] | None:
        return await self._store.get(FAMILIES, family)

    async def _note_family(self, family: str) -> None:
        """Whose sign-in a replayed code or refresh token belonged to, for the audit record."""
        record = await self._store.get(FAMILIES, family)
        if record is not None:
            note(person=record.get("person"), agent=record.get("agent"), client=record.get("client_id"))

    async def _family_alive(self, family: str) -> bool:
        record = await self._store.get(FAMILIES, family)
        return record is not None and not record.get("revoked")

    async def revoke_family(self, family: str) -> None:
        record = await self._store.get(FAMILIES, family)
        if record is not None and not record.get("revoked"):
            await self._store.put(FAMILIES, family, {**record, "revoked": True},
                                  ttl=self.refresh_seconds + USED_MARK_SECONDS)

    async def revoke_person(self, subject: str) -> int:
        """Every live sign-in of one person (when an operator removes them); how many were revoked."""
        revoked = 0
        for family, record in (await self._store.items(FAMILIES)).items():
            if record.get("subject") == subject and not record.get("revoked"):
                await self.revoke_family(family)
                revoked += 1
        return revoked
