"""Fixtures of the notification and worker tests, imported by both folders' conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from outreach.config import Settings, set_settings
from outreach.outbox import services as outbox
from tests.notifications.helpers import SmtpSink, with_settings


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_settings(db: str, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Mails as .eml files in this test's own folder."""
    yield with_settings(settings, data_dir=tmp_path)
    set_settings(settings)


@pytest.fixture
def smtp_settings(db: str, settings: Settings, smtp_sink: SmtpSink) -> Iterator[Settings]:
    """Mails through the test's SMTP server."""
    yield with_settings(settings, smtp_url=smtp_sink.url)
    set_settings(settings)


@pytest.fixture(autouse=True)
def _no_dispatcher() -> Iterator[None]:
    """Each test starts with no dispatcher registered and leaves none behind."""
    outbox.set_dispatcher(None)
    yield
    outbox.set_dispatcher(None)
