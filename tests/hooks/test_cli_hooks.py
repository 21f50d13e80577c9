"""`zbmcp hooks add/list/remove` and `zbmcp doctor`'s checks of hooks, as a person runs them, against a
loopback sandbox playing Zoho: the webhook is registered at Zoho when the connection may, the steps printed
when it may not, and the config edited so it still loads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ORG, agent, config_text, environ
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.server import SandboxServer

PUBLIC = "https://zbmcp.example.test"


def zbmcp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zbmcp", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def setup(sandbox: Sandbox, server: SandboxServer, home: Path, tmp_path: Path,
          **connection: Any) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "zbmcp.yaml"
    text = config_text(sandbox, {"collector": agent(["customerpayments:read"])}, base_url=server.base_url,
                       connection=connection or None)
    path.write_text("# my zbmcp\n" + text)
    return path, {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}


def test_add_registers_at_zoho_and_remove_deletes_it(sandbox: Sandbox, home: Path, tmp_path: Path):
    with SandboxServer(sandbox) as server:
        path, env = setup(sandbox, server, home, tmp_path)
        added = zbmcp("hooks", "add", "payments", "--config", str(path), "--organization", ORG, "--module",
                      "customerpayments", "--url", PUBLIC, "--event", "created", env=env)
        assert added.returncode == 0, added.stderr
        secret = re.search(r"^secret: (\w+)$", added.stdout, re.M)
        assert secret and len(secret[1]) == 32
        hook = yaml.safe_load(path.read_text())["hooks"]["payments"]
        assert hook["secret"] == secret[1] and hook["organization"] == ORG
        [webhook] = sandbox.org_store(ORG).webhooks.values()
        assert hook["zoho_webhook_id"] == webhook["webhook_id"]
        assert (webhook["url"], webhook["secret"], webhook["entity"]) == (
            f"{PUBLIC}/hooks/payments", secret[1], "customerpayments")
        assert webhook["additional_parameters"] == [{"param_name": "event", "param_value": "created"}]
        assert "Workflow Rules" in added.stdout and "+ New Webhook" not in added.stdout
        assert path.read_text().startswith("# my zbmcp\n")  # the person's comments stay

        listed = zbmcp("hooks", "list", "--config", str(path), env=env)
        assert f"payments: {PUBLIC}/hooks/payments  organization {ORG}  module customerpayments" \
            in listed.stdout
        assert "0 event(s) kept" in listed.stdout and secret[1] not in listed.stdout

        doctor = zbmcp("doctor", "--config", str(path), env=env)
        assert "ok   hook 'payments': Zoho calls https://zbmcp.example.test/hooks/payments" in doctor.stdout
        assert "ok   hook 'payments': agents that read its events: collector" in doctor.stdout
        assert f"ok   hook 'payments': Zoho webhook {webhook['webhook_id']} is registered" in doctor.stdout
        assert secret[1] not in doctor.stdout + doctor.stderr

        removed = zbmcp("hooks", "remove", "payments", "--config", str(path), env=env)
        assert removed.returncode == 0, removed.stderr
        assert "deleted at Zoho" in removed.stdout
        assert sandbox.org_store(ORG).webhooks == {}
        assert "hooks" not in yaml.safe_load(path.read_text())
        assert zbmcp("doctor", "--config", str(path), env=env).returncode == 0


def test_without_the_scope_add_prints_the_steps_in_zoho(sandbox: Sandbox, home: Path, tmp_path: Path):
    with SandboxServer(sandbox) as server:
        token = sandbox.mint_refresh_token(["ZohoBooks.customerpayments.READ", "ZohoBooks.settings.READ"])
        path, env = setup(sandbox, server, home, tmp_path, refresh_token=token)
        added = zbmcp("hooks", "add", "payments", "--config", str(path), "--organization", ORG, "--module",
                      "customerpayments", "--url", "http://zbmcp.lan:8000", "--secret-env", "PAY_HOOK",
                      env=env)
        assert added.returncode == 0, added.stderr
        assert "not registered at Zoho: connection 'main' was not granted ZohoBooks.settings.CREATE" \
            in added.stdout
        assert "+ New Webhook, module customerpayments: URL http://zbmcp.lan:8000/hooks/payments" \
            in added.stdout
        secret = re.search(r"^export PAY_HOOK=(\w+)$", added.stdout, re.M)
        assert secret and "${PAY_HOOK}" in path.read_text() and secret[1] not in path.read_text()
        assert sandbox.org_store(ORG).webhooks == {}
        second = zbmcp("hooks", "add", "invoices", "--config", str(path), "--organization", ORG, "--module",
                       "invoices", "--no-register", env=env)
        assert second.returncode == 0, second.stderr
        assert set(yaml.safe_load(path.read_text())["hooks"]) == {"payments", "invoices"}
        doctor = zbmcp("doctor", "--config", str(path), env={**env, "PAY_HOOK": secret[1]})
        assert "is not https" in doctor.stdout  # http://zbmcp.lan is not given; console.public_url unset
        assert "WARN hook 'invoices': no agent may read its events" in doctor.stdout


@pytest.mark.parametrize("args, message", [
    (["Bad_Name", "--organization", ORG, "--module", "invoices", "--no-register"], "hook name 'Bad_Name'"),
    (["x", "--organization", "not-digits", "--module", "invoices", "--no-register"], "organization"),
    (["x", "--organization", ORG, "--module", "payments", "--no-register"], "invalid choice: 'payments'"),
])
def test_bad_input_is_refused_and_the_config_left_alone(sandbox: Sandbox, home: Path, tmp_path: Path,
                                                        args: list[str], message: str):
    with SandboxServer(sandbox) as server:
        path, env = setup(sandbox, server, home, tmp_path)
        before = path.read_text()
        refused = zbmcp("hooks", "add", *args, "--config", str(path), env=env)
    assert refused.returncode != 0 and message in refused.stderr
    assert path.read_text() == before
