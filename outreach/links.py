"""Links put into mails, all under `settings.base_url`.

The reminder's "confirm or cancel" link works without signing in: it carries an HMAC
of the booking id made with SECRET_KEY. The page it opens must only show a button on
GET (mail scanners open links) and act on POST after `verify_respond_token`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from outreach.security import same_text

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = [
    "address_token",
    "address_url",
    "attendees_url",
    "booking_url",
    "event_url",
    "mail_host",
    "respond_token",
    "respond_url",
    "signed_booking_url",
    "verify_address_token",
    "verify_respond_token",
    "verify_view_token",
    "view_token",
]


def mail_host(settings: Settings) -> str:
    """The domain used in Message-IDs and calendar UIDs."""
    return urlsplit(settings.base_url).hostname or "outreach.invalid"


def booking_url(settings: Settings, booking_id: int) -> str:
    """The booking page for a signed-in reader (the host, the office, a teacher)."""
    return f"{settings.base_url}/bookings/{booking_id}"


# The booking page opened from the booker's own mails, without an account: a purpose of
# its own in the HMAC, so neither the reminder's nor the address link can stand in for
# it. The token names no expiry: the booking service refuses it once the visit is some
# days over (`booking.manage.LINK_VALID_AFTER_END`), so a moved slot moves it too.
def view_token(settings: Settings, booking_id: int) -> str:
    message = f"booking-view:{booking_id}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_booking_url(settings: Settings, booking_id: int) -> str:
    return f"{booking_url(settings, booking_id)}?token={view_token(settings, booking_id)}"


def verify_view_token(settings: Settings, booking_id: int, token: str) -> bool:
    return same_text(view_token(settings, booking_id), token)


def attendees_url(settings: Settings, event_id: int) -> str:
    """The host's attendee list, where attendance is recorded."""
    return f"{settings.base_url}/firm/events/{event_id}/attendees"


def event_url(settings: Settings, event_id: int) -> str:
    return f"{settings.base_url}/events/{event_id}"


def respond_token(settings: Settings, booking_id: int) -> str:
    message = f"booking-respond:{booking_id}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def respond_url(settings: Settings, booking_id: int) -> str:
    token = respond_token(settings, booking_id)
    return f"{settings.base_url}/bookings/{booking_id}/respond?token={token}"


def verify_respond_token(settings: Settings, booking_id: int, token: str) -> bool:
    return same_text(respond_token(settings, booking_id), token)


# A public registrant confirms the e-mail address with its own link: another purpose in
# the HMAC, so the reminder's link cannot stand in for it and the other way round.
def address_token(settings: Settings, booking_id: int) -> str:
    message = f"booking-address:{booking_id}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def address_url(settings: Settings, booking_id: int) -> str:
    token = address_token(settings, booking_id)
    return f"{settings.base_url}/bookings/{booking_id}/verify?token={token}"


def verify_address_token(settings: Settings, booking_id: int, token: str) -> bool:
    return same_text(address_token(settings, booking_id), token)
