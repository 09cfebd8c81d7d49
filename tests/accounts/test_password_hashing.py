"""Production password hashing: the parameters the suite itself does not use.

The suite hashes with CHEAP_PASSWORD_HASHER (tests/cheap_hashing.py) to stay fast; this test
runs `outreach.security` in a fresh process, untouched by the tests, and checks the
hashes it makes there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY

from outreach import security
from tests.cheap_hashing import CHEAP_PASSWORD_HASHER

_PROBE = """
import json
from outreach import security
stored = security.hash_password("correct horse battery staple")
print(json.dumps({
    "stored": stored,
    "dummy": security._dummy_hash(),
    "right": security.verify_password(stored, "correct horse battery staple"),
    "wrong": security.verify_password(stored, "wrong horse battery staple"),
    "nobody": security.verify_password(None, "outreach-no-such-user"),
}))
"""


def _production_run() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.processes  # a process of its own, hashing at full cost: not in --quick
def test_production_hashes_are_argon2id_with_rfc_9106_low_memory_parameters():
    found = _production_run()
    for name in ("stored", "dummy"):
        value = str(found[name])
        assert value.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), value
        parameters = extract_parameters(value)
        assert parameters.type is RFC_9106_LOW_MEMORY.type
        assert parameters.time_cost == RFC_9106_LOW_MEMORY.time_cost == 3
        assert parameters.memory_cost == RFC_9106_LOW_MEMORY.memory_cost == 64 * 1024
        assert parameters.parallelism == RFC_9106_LOW_MEMORY.parallelism == 4
        assert parameters.salt_len == 16 and parameters.hash_len == 32
    assert found["right"] is True
    assert found["wrong"] is False
    # An unknown user runs the same verification and still gets a no.
    assert found["nobody"] is False


def test_the_suite_hashes_cheaply_and_a_cheap_hash_still_verifies_in_production():
    stored = security.hash_password("a-good-password-1")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert security._dummy_hash().startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    # Production verifies with the parameters stored in the hash, whatever made it.
    assert PasswordHasher().verify(stored, "a-good-password-1")
    assert security._hasher is CHEAP_PASSWORD_HASHER
