"""The operator's `zbmcp oauth ...` commands: enrollment links, who is enrolled, and taking someone out."""

from __future__ import annotations

import datetime as dt

from zbmcp.core.config import LoadedConfig
from zbmcp.errors import ConfigError
from zbmcp.oauth_server.records import Records
from zbmcp.oauth_server.enrollment import EnrollmentLinks, check_hours, enrollment_key
from zbmcp.oauth_server.people import People
from zbmcp.oauth_server.settings import ServerSettings, server_settings
from zbmcp.oauth_server.tokens import TokenService
from zbmcp.core.policy import unknown_agent
from zbmcp.state import open_state


def _settings(loaded: LoadedConfig) -> ServerSettings:
    settings = server_settings(loaded)
    if settings is None:
        raise ConfigError(f"{loaded.source.file} has no `oauth:` section, so nobody signs in (see "
                          "docs/connectors.md)")
    return settings


async def enrollment_link(loaded: LoadedConfig, agent: str, *, email: str | None, hours: float) -> str:
    """A link bound to the State's epoch, so the State is opened: should it lose the record of the link's
    use (a Redis restarted empty), the link is refused rather than re-armed."""
    settings = _settings(loaded)
    if agent not in loaded.config.agents:
        raise unknown_agent(agent, loaded.config.agents)
    try:
        check_hours(hours)
    except ValueError as exc:
        raise ConfigError(f"--hours: {exc}") from None
    links = EnrollmentLinks(enrollment_key(loaded), settings.issuer)
    state = open_state(loaded.config.state, loaded.home)
    try:
        epoch = await state.epoch()
    finally:
        await state.aclose()
    return links.create(agent, epoch=epoch, email=email, hours=hours)


async def people_lines(loaded: LoadedConfig) -> list[str]:
    _settings(loaded)
    lines = []
    for name, agent in sorted(loaded.config.agents.items()):
        for user in agent.users:
            lines.append(f"{user:<40} {name:<16} listed in the config")
    state = open_state(loaded.config.state, loaded.home)
    try:
        enrolled = await People(loaded.config, Records(state)).enrolled()
    finally:
        await state.aclose()
    for user_id, record in sorted(enrolled.items()):
        when = dt.datetime.fromtimestamp(record.get("enrolled_at", 0), dt.UTC).strftime("%Y-%m-%d %H:%M")
        for name in record.get("agents", []):
            lines.append(f"{record.get('email', user_id):<40} {name:<16} enrolled {when} (Zoho "
                         f"user {user_id})")
    return lines or ["Nobody may sign in yet: list people under agents.NAME.users, or `zbmcp oauth enroll`."]


async def remove_person(loaded: LoadedConfig, who: str) -> str:
    settings = _settings(loaded)
    state = open_state(loaded.config.state, loaded.home)
    try:
        store = Records(state)
        people = People(loaded.config, store)
        wanted = who.strip().lower()
        enrolled = await people.enrolled()
        user_id = next((uid for uid, record in enrolled.items()
                        if wanted in (uid, str(record.get("email", "")))),
                       None)
        if user_id is None:
            raise ConfigError(f"{who!r} is not enrolled (`zbmcp oauth people` lists who is); people "
                              "listed in the config are removed by editing agents.NAME.users")
        await people.unenroll(user_id)
        tokens = TokenService(store, access_seconds=settings.access_seconds,
                              refresh_seconds=settings.refresh_seconds)
        revoked = await tokens.revoke_person(user_id)
    finally:
        await state.aclose()
    return f"{who} is no longer enrolled; {revoked} sign-in(s) revoked, their tokens stop working now."
