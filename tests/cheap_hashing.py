"""Cheap password hashing for the tests, and `python -m outreach.cli` with it.

argon2id at its smallest cost: a hash and a verify take about a millisecond instead of
0.6 s each. The application verifies with the parameters stored in a hash, so sign-in
stays the real path. tests/accounts/test_password_hashing.py checks the production
parameters in a process of their own.

`python -m tests.cheap_hashing ARGS` is `python -m outreach.cli ARGS` with these
parameters: the CLI tests start it (`outreach demo` hashes 29 passwords). Kept free of
pytest so that such a process starts quickly.
"""

from __future__ import annotations

import runpy

from argon2 import PasswordHasher

from outreach import security

CHEAP_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def use_cheap_password_hashing() -> None:
    """Tests only: hash new passwords (and the dummy hash) with CHEAP_PASSWORD_HASHER."""
    security._hasher = CHEAP_PASSWORD_HASHER
    security._dummy_hash.cache_clear()


if __name__ == "__main__":
    use_cheap_password_hashing()
    runpy.run_module("outreach.cli", run_name="__main__", alter_sys=True)
