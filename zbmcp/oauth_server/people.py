"""Which agents a signed-in person may act as: the config's `agents.NAME.users` (email or Zoho user id),
and the people an operator enrolled with a one-time link. Asked at sign-in, and again on every token use, so
removing a person from the config (and restarting) or un-enrolling them cuts their tokens off at once.
"""

from __future__ import annotations

import time
from typing import Any

from zbmcp.core.config import Config
from zbmcp.oauth_server.records import Records
from zbmcp.zoho.accounts import ZohoIdentity

NAMESPACE = "oauth_people"


class People:
    def __init__(self, config: Config, store: Records) -> None:
        self._config = config
        self._store = store

    def configured_agents(self, user_id: str, email: str) -> set[str]:
        email = email.lower()
        return {name for name, agent in self._config.agents.items()
                if user_id in agent.users or email in agent.users}

    async def agents_for(self, identity: ZohoIdentity) -> list[str]:
        agents = self.configured_agents(identity.user_id, identity.email)
        enrolled = await self._store.get(NAMESPACE, identity.user_id)
        if enrolled is not None:
            agents |= {name for name in enrolled.get("agents", []) if name in self._config.agents}
        return sorted(agents)

    async def may_act_as(self, user_id: str, email: str, agent: str) -> bool:
        if agent not in self._config.agents:
            return False
        if agent in self.configured_agents(user_id, email):
            return True
        enrolled = await self._store.get(NAMESPACE, user_id)
        return enrolled is not None and agent in enrolled.get("agents", [])

    async def enroll(self, identity: ZohoIdentity, agent: str) -> None:
        record: dict[str, Any] = await self._store.get(NAMESPACE, identity.user_id) or {"agents": []}
        record["agents"] = sorted(set(record.get("agents", [])) | {agent})
        record.update(email=identity.email, name=identity.name, enrolled_at=int(time.time()))
        await self._store.put(NAMESPACE, identity.user_id, record, ttl=None)

    async def enrolled(self) -> dict[str, dict[str, Any]]:
        return await self._store.items(NAMESPACE)

    async def unenroll(self, user_id: str) -> bool:
        return await self._store.delete(NAMESPACE, user_id)
