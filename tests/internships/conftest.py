"""Fixtures: see tests/notifications/fixtures.py."""

from tests.notifications.fixtures import (  # noqa: F401 (fixtures)
    _no_dispatcher,
    mail_settings,
)
