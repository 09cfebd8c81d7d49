"""Passwords (argon2) and bearer secrets (selector + hashed verifier, constant-time compare)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "hash_password",
    "hash_secret",
    "new_token",
    "secret_matches",
    "split_token",
    "verify_password",
]

# argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4): argon2-cffi's default.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths cost the same time.

    Made on first use with the same parameters as every stored hash, not at import: a
    process that never signs anybody in (worker, scheduler, CLI) does not pay for it.
    """
    return _hasher.hash("outreach-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> tuple[str, str, str]:
    """A bearer token `prefix_selector_verifier`: returns (token, selector, verifier hash).

    The selector finds the row; the verifier (256 bits) is stored only as a hash.
    """
    selector = secrets.token_hex(8)
    verifier = secrets.token_urlsafe(32)
    return f"{prefix}_{selector}_{verifier}", selector, hash_secret(verifier)


def split_token(token: str, prefix: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def hash_secret(secret: str) -> str:
    # A fast hash is right here: the secret is random and long, not a password.
    return hashlib.sha256(secret.encode()).hexdigest()


def same_text(expected: str, presented: str) -> bool:
    """Constant-time comparison of a secret with what a caller sent.

    Compared as bytes: `hmac.compare_digest` refuses str with non-ASCII characters, and
    a caller's token may hold anything (that must be a plain "no", never an error).
    """
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), presented.encode("utf-8", "surrogatepass")
    )


def secret_matches(stored_hash: str, presented: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_secret(presented))
