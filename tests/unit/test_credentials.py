"""Operator secrets and agent keys (zbmcp.core.credentials)."""

from __future__ import annotations

from zbmcp.core.credentials import DUMMY_HASH, SCRYPT_N, SCRYPT_P, SCRYPT_R, hash_secret, verify_secret


def test_an_unknown_operators_check_costs_what_a_real_one_costs():
    # the console checks a sign-in with an unknown name against DUMMY_HASH: the same scrypt as a real secret's
    assert DUMMY_HASH == hash_secret("not a real operator secret", salt=b"\0" * 16)
    assert DUMMY_HASH.split("$")[1:4] == [str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P)]
    assert not verify_secret("", DUMMY_HASH) and not verify_secret("not a real", DUMMY_HASH)
