"""The generic routes and their resources, as scripts/sandbox_routes.py wrote them from Zoho's files
(routes.json, beside this module; it ships in the wheel)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROUTES_FILE = Path(__file__).with_name("routes.json")


@dataclass(frozen=True)
class Resource:
    """A collection of records: `/settings/taxes`, or `/projects/{}/tasks` below each project."""

    path: str
    id_field: str
    record_key: str
    list_key: str
    thing: str  # as in "Tax does not exist."
    status: str | None  # a new record's status, from the example in Zoho's file
    search: tuple[str, ...]

    @property
    def depth(self) -> int:
        """How many parent ids a record has: `/projects/{}/tasks` has one."""
        return self.path.count("{}")

    @property
    def parent(self) -> str | None:
        """The resource of the records this one's live under: `/projects` for `/projects/{}/tasks`."""
        head, found, _ = self.path.rpartition("/{}")
        return head if found and head else None


@dataclass(frozen=True)
class Route:
    """One Zoho route: its scope and answer from Zoho's file, and what the generic emulation does (kind)."""

    method: str
    path: str  # Zoho's template, "/projects/{project_id}/tasks/{task_id}"
    operations: tuple[str, ...]
    file: str
    scope: str
    kind: str
    resource: Resource | None
    status: int
    message: str
    key: str | None
    payload: str | None  # the type of the answer's value under `key`
    flat: dict[str, str]  # an answer whose fields sit beside code and message
    body: str  # "none" | "optional" | "required"
    fields: dict[str, str]  # body field -> JSON type
    required: tuple[str, ...]  # "line_items.amount": inside each element
    parent_params: tuple[str, ...] | None  # None: the path does not name the parents
    id_param: str | None
    extra: dict[str, Any]  # what some kinds need: value, field, source, reason, filters, ...

    @property
    def operation(self) -> str:
        return self.operations[0]


def load(path: Path = ROUTES_FILE) -> tuple[tuple[Route, ...], dict[str, Resource]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    resources = {name: Resource(name, facts["id_field"], facts["record_key"], facts["list_key"],
                                facts["thing"], facts.get("status"), tuple(facts["search"]))
                 for name, facts in data["resources"].items()}
    own = ("method", "path", "operations", "file", "scope", "kind", "resource", "status", "message", "key",
           "payload", "flat", "body", "fields", "required", "parent_params", "id_param")
    routes = tuple(
        Route(raw["method"], raw["path"], tuple(raw["operations"]), raw["file"], raw["scope"], raw["kind"],
              resources.get(raw.get("resource") or ""), raw["status"], raw["message"], raw.get("key"),
              raw.get("payload"), raw.get("flat") or {}, raw["body"], raw["fields"], tuple(raw["required"]),
              None if raw.get("parent_params") is None else tuple(raw["parent_params"]), raw.get("id_param"),
              {key: value for key, value in raw.items() if key not in own})
        for raw in data["routes"])
    return routes, resources


ROUTES, RESOURCES = load()
