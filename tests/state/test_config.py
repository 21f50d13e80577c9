"""The `state:` section: local by default; Redis only with what it needs, and mistakes
named with their fix."""

from __future__ import annotations

import pytest

from zbmcp.cli.config_file import EXAMPLE_CONFIG
from zbmcp.core.config_parse import parse_config
from zbmcp.errors import ConfigError

ENV = {"ZOHO_CLIENT_ID": "1000.ID", "ZOHO_CLIENT_SECRET": "s3cret", "ZOHO_REFRESH_TOKEN": "1000.refresh",
       "REDIS_URL": "rediss://:pa55word@redis.internal:6380/2", "STATE_KEY": "k" * 40}


def error_of(state: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(EXAMPLE_CONFIG + state, "zbmcp.yaml", ENV)
    return str(info.value)


def test_the_default_is_local_files():
    assert parse_config(EXAMPLE_CONFIG, "zbmcp.yaml", ENV).config.state.backend == "local"


def test_redis_with_url_and_key_from_the_environment_keeps_them_secret():
    loaded = parse_config(EXAMPLE_CONFIG + "state:\n  backend: redis\n  url: ${REDIS_URL}\n"
                          "  encryption_key: ${STATE_KEY}\n", "zbmcp.yaml", ENV)
    assert loaded.config.state.url is not None
    assert loaded.config.state.url.get_secret_value().startswith("rediss://")
    assert "pa55word" not in repr(loaded.config) and "kkkk" not in repr(loaded.config)


@pytest.mark.parametrize(("state", "expected"), [
    ("state:\n  backend: redis\n  encryption_key: ${STATE_KEY}\n", "backend redis needs url"),
    ("state:\n  backend: redis\n  url: ${REDIS_URL}\n", "backend redis needs encryption_key"),
    ("state:\n  backend: redis\n  url: http://x\n  encryption_key: ${STATE_KEY}\n", "not a Redis URL"),
    ("state:\n  backend: local\n  encryption_key: short\n", "at least 32 characters"),
    ("state:\n  backend: memcached\n", "'local' or 'redis'"),
    ("state:\n  backend: local\n  hosts: [a]\n",
     "unknown key 'hosts'; expected one of: backend, encryption_key"),
])
def test_mistakes_name_the_setting_and_the_fix(state, expected):
    message = error_of(state)
    assert message.startswith(("zbmcp.yaml:14:", "zbmcp.yaml:15:", "zbmcp.yaml:16:")) and "state" in message \
        and expected in message, message


def test_the_hosting_guides_state_section_and_compose_file_are_valid():
    import re
    from pathlib import Path

    import yaml

    guide = (Path(__file__).resolve().parents[2] / "docs" / "hosting.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    (state,) = [b for b in blocks if b.startswith("state:")]
    env = {**ENV, "ZBMCP_REDIS_URL": "redis://:pw@redis:6379/0", "ZBMCP_STATE_KEY": "s" * 43}
    loaded = parse_config(EXAMPLE_CONFIG + state, "zbmcp.yaml", env)
    assert loaded.config.state.backend == "redis" and loaded.config.state.key_prefix == "zbmcp:"
    (compose,) = [yaml.safe_load(b) for b in blocks if "services:" in b]
    assert {"redis", "zbmcp-1", "zbmcp-2", "zbmcp-3", "proxy"} <= set(compose["services"])
    assert compose["services"]["zbmcp-2"]["environment"]["ZBMCP_REDIS_URL"].startswith("redis://")
