"""The config file: read once, and every mistake names the file, the line and the fix."""

from __future__ import annotations

import pytest

from zbmcp.cli.config_file import EXAMPLE_CONFIG, load_config
from zbmcp.core.config_parse import parse_config
from zbmcp.errors import ConfigError

ENV = {"ZOHO_CLIENT_ID": "1000.ID", "ZOHO_CLIENT_SECRET": "s3cret", "ZOHO_REFRESH_TOKEN": "1000.refresh"}


def parse(text: str, environ: dict[str, str] | None = None):
    return parse_config(text, "zbmcp.yaml", ENV if environ is None else environ)


def error_of(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, environ)
    return str(info.value)


def test_the_documented_example_loads_with_secrets_from_the_environment():
    loaded = parse(EXAMPLE_CONFIG)
    main = loaded.config.connections["main"]
    assert main.region == "eu"
    assert main.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(loaded.config)  # secrets never show in a repr or a log line
    assert loaded.config.agents["bookkeeper"].organizations == ["10234695"]


def test_a_missing_environment_variable_names_it_and_its_line():
    message = error_of(EXAMPLE_CONFIG, {"ZOHO_CLIENT_ID": "x", "ZOHO_REFRESH_TOKEN": "y"})
    assert message.startswith("zbmcp.yaml:5:")
    assert "ZOHO_CLIENT_SECRET" in message


def test_an_unknown_region_lists_the_valid_ones():
    message = error_of(EXAMPLE_CONFIG.replace("region: eu", "region: us"))
    assert message.startswith("zbmcp.yaml:3:")
    assert "com, eu, in, com.au, jp, ca, com.cn, sa" in message


def test_an_unknown_key_is_refused_with_the_keys_that_exist():
    message = error_of(EXAMPLE_CONFIG.replace("    connection: main",
                                              "    connection: main\n    readonly: true"))
    assert message.startswith("zbmcp.yaml:10:")
    assert "unknown key 'readonly'" in message and "read_only" in message


def test_an_agent_on_an_unknown_connection_is_refused_at_its_line():
    message = error_of(EXAMPLE_CONFIG.replace("connection: main", "connection: mian"))
    assert message.startswith("zbmcp.yaml:9:") and "'mian'" in message and "main" in message


def test_organization_ids_must_be_digits_and_numbers_are_accepted():
    assert "digits only" in error_of(EXAMPLE_CONFIG.replace('["10234695"]', '["acme"]'))
    loaded = parse(EXAMPLE_CONFIG.replace('["10234695"]', "[10234695]"))
    assert loaded.config.agents["bookkeeper"].organizations == ["10234695"]


def test_a_duplicate_key_is_refused_instead_of_silently_overwriting():
    message = error_of(EXAMPLE_CONFIG.replace("audit:\n", "audit:\n  path: a.jsonl\n"))
    assert "appears twice" in message


def test_api_keys_must_be_hashes_not_keys():
    text = EXAMPLE_CONFIG.replace("    connection: main",
                                  "    connection: main\n    api_keys: [my-plain-key]")
    assert "zbmcp agent key" in error_of(text)


def test_audit_path_is_relative_to_the_config_file(tmp_path):
    path = tmp_path / "conf" / "zbmcp.yaml"
    path.parent.mkdir()
    path.write_text(EXAMPLE_CONFIG)
    loaded = load_config(path, ENV)
    assert loaded.audit_path == tmp_path / "conf" / "zbmcp-audit.jsonl"


def test_no_config_file_says_how_to_write_one(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml", {})
    assert "zbmcp serve --sandbox" in str(info.value) and "connections:" in str(info.value)


KEY = "sha256:" + "ab" * 32


def test_one_key_under_two_agents_stops_start_up_naming_both_lines():
    text = EXAMPLE_CONFIG.replace("    connection: main", f"    connection: main\n    api_keys: ['{KEY}']")
    text = text.replace("audit:", f"  reporting:\n    connection: main\n    organizations: ['1']\n"
                                  f"    api_keys:\n      - '{KEY}'\naudit:")
    message = error_of(text)
    assert message.startswith("zbmcp.yaml:17:")  # the second use, with the first one's line in the message
    assert "already agent 'bookkeeper''s (line 10)" in message and "zbmcp agent key NAME" in message
    assert KEY not in message  # (a hash is not a secret, but it says nothing a person needs)


def test_the_revision_is_the_hash_of_the_file_as_loaded(tmp_path):
    import hashlib

    path = tmp_path / "zbmcp.yaml"
    path.write_text(EXAMPLE_CONFIG)
    loaded = load_config(path, ENV)
    assert loaded.revision == hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert parse(EXAMPLE_CONFIG + "\n").revision != loaded.revision  # any change is a new revision
