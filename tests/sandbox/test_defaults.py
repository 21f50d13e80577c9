"""The credentials `zbmcp serve --sandbox` starts with, known before a sandbox is made, are a fresh
sandbox's."""

from __future__ import annotations

from zbmcp.sandbox import Sandbox, SandboxSettings
from zbmcp.sandbox.defaults import DefaultCredentials


def test_the_default_credentials_are_a_fresh_sandboxs():
    made, known = Sandbox(SandboxSettings()).credentials, DefaultCredentials()
    assert (made.client_id, made.client_secret, made.refresh_token, tuple(made.organization_ids)) == (
        known.client_id, known.client_secret, known.refresh_token, known.organization_ids)
