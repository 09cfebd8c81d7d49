"""E-mail addresses as outreach stores and compares them."""

from __future__ import annotations

import re

from outreach.errors import Invalid

__all__ = ["normalise_email"]

# Deliberately loose: the mail server is the real judge; this catches typos and injection.
_EMAIL = re.compile(r"^[^@\s<>,;\"\r\n]+@[^@\s<>,;\"\r\n]+\.[^@\s<>,;\"\r\n]+$")


def normalise_email(email: str, *, field: str = "email") -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise Invalid.because("invalid_email", field=field)
    return email
