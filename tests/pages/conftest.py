"""Helpers for page tests: sign in through the form, post forms with the CSRF token."""

from __future__ import annotations

import re

import pytest

from outreach.accounts.tables import User
from outreach.security import hash_password

PASSWORD = "a-good-password-1"
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def post_form(client, path: str, data: dict, *, from_page: str | None = None):
    """POST a form the way a browser does: read the token from the page that holds it."""
    page = await client.get(from_page or path)
    token = csrf_of(page.text)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def sign_in(client, email: str, password: str = PASSWORD):
    response = await post_form(client, "/signin", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    return response


async def give_password(email: str, password: str = PASSWORD) -> None:
    await User.update({User.password_hash: hash_password(password)}).where(User.email == email)


@pytest.fixture
def anyio_backend():
    return "asyncio"
