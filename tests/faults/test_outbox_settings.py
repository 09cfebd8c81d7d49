"""The outbox settings the fault tests shorten: the claim's lease and the retry delay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from outreach.config import ConfigError, Settings, set_settings
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.notifications.helpers import make_booking, with_settings

N = Notification


@pytest.fixture
def short(db: str, settings: Settings) -> Iterator[Settings]:
    yield with_settings(settings, notification_lease_seconds=7, notification_retry_seconds=2)
    set_settings(settings)


async def _queued() -> int:
    booked = await make_booking()
    notification_id = await outbox.enqueue(
        "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
    )
    assert notification_id is not None
    return notification_id


def test_settings_read_and_checked() -> None:
    env = {"SECRET_KEY": "x" * 40, "OUTREACH_DATA_DIR": "/tmp/outreach-settings-test"}
    defaults = Settings.from_env(env)
    assert defaults.notification_lease_seconds == outbox.LEASE.total_seconds()
    assert defaults.notification_retry_seconds == outbox.BACKOFF_BASE.total_seconds()
    custom = Settings.from_env(
        {**env, "NOTIFICATION_LEASE_SECONDS": "4", "NOTIFICATION_RETRY_SECONDS": "1"}
    )
    assert (custom.notification_lease_seconds, custom.notification_retry_seconds) == (4, 1)
    with pytest.raises(ConfigError, match="NOTIFICATION_LEASE_SECONDS"):
        Settings.from_env({**env, "NOTIFICATION_LEASE_SECONDS": "0"})
    with pytest.raises(ConfigError, match="NOTIFICATION_RETRY_SECONDS"):
        Settings.from_env({**env, "NOTIFICATION_RETRY_SECONDS": "soon"})


async def test_claim_lease_and_retry_delay_follow_the_settings(short: Settings) -> None:
    notification_id = await _queued()
    now = utcnow()
    claimed = await outbox.claim(notification_id, now)
    assert claimed is not None
    assert claimed.lease_until == now + timedelta(seconds=7)
    # Within the lease nobody else takes it; after it, another worker does.
    assert await outbox.claim(notification_id, now + timedelta(seconds=6)) is None
    assert await outbox.claim(notification_id, now + timedelta(seconds=8)) is not None
    assert [outbox.backoff(k) for k in (1, 2, 3)] == [timedelta(seconds=s) for s in (2, 4, 8)]


async def test_handover_hold_is_never_longer_than_the_lease(short: Settings) -> None:
    notification_id = await _queued()
    now = utcnow()
    assert await outbox.take_due(now) == [notification_id]
    # Handed to a worker that died before claiming it: handed again after the lease.
    assert await outbox.take_due(now + timedelta(seconds=6)) == []
    assert await outbox.take_due(now + timedelta(seconds=8)) == [notification_id]
    with_settings(short, notification_lease_seconds=3600)
    later = now + timedelta(minutes=1)
    assert await outbox.take_due(later) == [notification_id]
    row = await N.select(N.lease_until).where(N.id == notification_id).first()
    assert row["lease_until"] == later + outbox.HANDOVER_HOLD  # the hold's own cap
