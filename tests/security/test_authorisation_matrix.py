"""Every route of the application times every role, on own and foreign objects.

The route list comes from the application itself: a route of the app (API, pages,
feeds, health) that has no line in POLICY or PAGES fails
`test_every_route_has_a_policy`, so nothing escapes the matrix; only the paths in
ELSEWHERE are left out, each with its reason. The world is built once through the
services and its database copied aside; every case starts from that copy (SQLite's
backup API: the same rows, ids and tokens each time). A denied request must be refused
(401/403/404, or a page's redirect to the sign-in form) and change nothing, an allowed
one must not be refused for who the caller is.
The API is called with Bearer tokens, pages with the session cookie of a sign-in
through the form (POSTs carry its CSRF token), feeds with the token in their URL. Data
that only school A, firm A (the host) and the office may see carries a marker, and
likewise school B's booking at firm B; no other role's answer may contain them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from outreach.accounts.services import feed_token_for
from outreach.accounts.tables import User
from outreach.app import create_app
from outreach.booking.schemas import BookingRequest
from outreach.booking.writes import place_booking
from outreach.config import Settings, get_settings, set_settings
from outreach.db import all_tables
from outreach.internships import rounds
from outreach.internships.schemas import PupilIn, RoundIn
from outreach.internships.wishes import put_pupils
from outreach.itineraries.schemas import ItineraryIn
from outreach.itineraries.writes import book_itinerary
from outreach.links import view_token
from outreach.outbox.tables import Notification
from outreach.presenters import services as presenters
from outreach.presenters.schemas import InviteIn
from outreach.security import hash_password
from outreach.workplan import services as workplans
from outreach.workplan.schemas import MilestoneIn, PriorityIn, WorkPlanIn
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.internships.helpers import class_dates, make_class, make_offer, period_of
from tests.support import bearer

ROLES = ("anonymous", "school_a", "school_b", "firm_a", "firm_b", "admin")
MEMBERS = ROLES[1:]
MARKER = "secret-marker-of-school-a"
# Who may see school A's booking of firm A's event.
INSIDERS = {"school_a", "firm_a", "admin"}
# School B's booking of firm B's event: firm A (a competitor) and school A must not see it.
MARKER_B = "secret-marker-of-school-b"
INSIDERS_B = {"school_b", "firm_b", "admin"}
PASSWORD = "matrix-password-1"


@dataclass(frozen=True)
class Case:
    allowed: frozenset[str]
    body: Callable[[dict[str, Any]], Any] | None = None
    # Path parameter -> key of the scene's ids ("{role}" becomes the caller's role).
    on: dict[str, str] = field(default_factory=dict)
    query: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def case(
    allowed: tuple[str, ...] | set[str],
    body: Callable[..., Any] | None = None,
    *,
    on: dict[str, str] | None = None,
    query: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Case:
    return Case(frozenset(allowed), body, on or {}, query)


def _slot_body(ids: dict[str, int]) -> dict[str, Any]:
    return {
        "starts_at": "2031-03-04T09:00:00+01:00",
        "ends_at": "2031-03-04T10:30:00+01:00",
        "capacity": 20,
    }


POLICY: dict[tuple[str, str], Case] = {
    ("GET", "/health"): case(ROLES),
    ("GET", "/health/live"): case(ROLES),
    ("GET", "/health/ready"): case(ROLES),
    # No user role: only METRICS_TOKEN or loopback (tests/test_operability.py), not a user token.
    ("GET", "/metrics"): case(set()),
    ("GET", "/api/v1/events"): case(ROLES),
    ("POST", "/api/v1/events"): case(
        {"firm_a", "admin"},  # an event of firm A: firm B may not create it
        lambda ids: {"kind": "open_day", "title": "Neu", "host": "firm-a"},
    ),
    ("GET", "/api/v1/events/{event_id:int}"): case(ROLES),
    ("PATCH", "/api/v1/events/{event_id:int}"): case(
        {"firm_a", "admin"}, lambda ids: {"title": "X"}
    ),
    ("POST", "/api/v1/events/{event_id:int}/cancel"): case(
        {"firm_a", "admin"}, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/events/{event_id:int}/slots"): case({"firm_a", "admin"}, _slot_body),
    ("PATCH", "/api/v1/slots/{slot_id:int}"): case(
        {"firm_a", "admin"}, lambda ids: {"capacity": 40}
    ),
    ("POST", "/api/v1/slots/{slot_id:int}/cancel"): case(
        {"firm_a", "admin"}, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/slots/{slot_id:int}/bookings"): case(
        {"school_a", "school_b"},
        lambda ids: {"class_label": "9z", "grade": 9, "pupils": 5, "adults": 1},
    ),
    ("GET", "/api/v1/bookings"): case(MEMBERS),
    ("GET", "/api/v1/bookings/{booking_id:int}"): case(INSIDERS),
    # The booker changes the party size (the office too); the host may not (403).
    ("PATCH", "/api/v1/bookings/{booking_id:int}"): case(
        {"school_a", "admin"}, lambda ids: {"pupils": 10}
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/confirm"): case({"firm_a", "admin"}),
    ("POST", "/api/v1/bookings/{booking_id:int}/decline"): case(
        {"firm_a", "admin"}, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/cancel"): case(
        INSIDERS, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/itineraries/plan"): case(
        {"school_a", "school_b", "admin"},
        lambda ids: {"date": "2031-03-04", "grade": 8, "pupils": 20, "adults": 2},
    ),
    ("POST", "/api/v1/itineraries"): case(
        {"school_a", "school_b"},
        lambda ids: {
            "slot_ids": [ids["slot_b_id"]],
            "class_label": "9y",
            "grade": 9,
            "pupils": 5,
            "adults": 1,
        },
    ),
    ("GET", "/api/v1/itineraries"): case({"school_a", "school_b", "admin"}),
    ("GET", "/api/v1/itineraries/{itinerary_id:int}"): case({"school_a", "admin"}),
    ("GET", "/api/v1/itineraries/{itinerary_id:int}/replacements"): case({"school_a", "admin"}),
    ("GET", "/api/v1/me/feed"): case(MEMBERS),
    ("POST", "/api/v1/me/feed/rotate"): case(MEMBERS),
    # Presenters at school A's parents' evening: school A invites, firm A is invited.
    ("GET", "/api/v1/events/{evening_id:int}/presenters"): case(ROLES),
    ("POST", "/api/v1/events/{evening_id:int}/presenters"): case(
        {"school_a", "admin"}, lambda ids: {"firms": ["firm-b"]}
    ),
    ("GET", "/api/v1/presenter-invitations"): case(MEMBERS),
    ("GET", "/api/v1/presenter-invitations/{invitation_id:int}"): case(INSIDERS),
    ("POST", "/api/v1/presenter-invitations/{invitation_id:int}/accept"): case({"firm_a"}),
    ("POST", "/api/v1/presenter-invitations/{invitation_id:int}/decline"): case({"firm_a"}),
    ("POST", "/api/v1/presenter-invitations/{invitation_id:int}/withdraw"): case(
        {"school_a", "admin"}
    ),
    ("GET", "/api/v1/me/export"): case(MEMBERS),
    # A wrong confirmation answers 422 (allowed, but nothing deleted); anonymous 401.
    ("POST", "/api/v1/me/delete"): case(MEMBERS, lambda ids: {"confirm": "not-me@x.example"}),
    ("GET", "/api/v1/audit"): case({"admin"}),
    ("POST", "/api/v1/bookings/{booking_id:int}/attendance"): case(
        {"firm_a", "admin"}, lambda ids: {"attended": 1}
    ),
    ("GET", "/api/v1/workplans"): case(MEMBERS),
    ("POST", "/api/v1/workplans"): case(
        {"admin"}, lambda ids: {"school_year": "2030/31", "title": "Plan"}
    ),
    ("GET", "/api/v1/workplans/{plan_id:int}"): case(MEMBERS),
    ("POST", "/api/v1/workplans/{plan_id:int}/priorities"): case(
        {"admin"}, lambda ids: {"title": "Schwerpunkt"}
    ),
    ("POST", "/api/v1/workplans/{plan_id:int}/milestones"): case(
        {"admin"},
        lambda ids: {"title": "M", "due_on": "2031-03-04", "metric": "pupils", "target": 5},
    ),
    ("POST", "/api/v1/milestones/{milestone_id:int}/events"): case(
        {"admin"}, lambda ids: {"event_id": ids["event_id"]}
    ),
    ("DELETE", "/api/v1/milestones/{milestone_id:int}"): case({"admin"}),
    ("PATCH", "/api/v1/milestones/{milestone_id:int}"): case({"admin"}, lambda ids: {"target": 7}),
    ("DELETE", "/api/v1/milestones/{milestone_id:int}/events/{event_id:int}"): case({"admin"}),
    ("PATCH", "/api/v1/workplans/{plan_id:int}/priorities/{priority_id:int}"): case(
        {"admin"}, lambda ids: {"title": "Neu"}
    ),
    ("GET", "/api/v1/reports/{name:str}"): case(MEMBERS),
    # Internships: school A's pupil placed at firm A (named MARKER), school B's at firm B.
    ("GET", "/api/v1/internships/offers"): case(ROLES),
    ("POST", "/api/v1/internships/offers"): case(
        {"firm_a", "firm_b", "admin"},  # each firm its own; the office names the host (422)
        lambda ids: {
            "occupation": "Uhrmacher",
            "grades": [8],
            "periods": [{"starts_on": ids["first_day"], "ends_on": ids["last_day"], "places": 2}],
        },
    ),
    ("POST", "/api/v1/internships/classes"): case(
        {"school_a", "school_b", "admin"},  # the office names the school (422)
        lambda ids: {
            "class_label": "9x",
            "grade": 9,
            "starts_on": ids["first_day"],
            "ends_on": ids["last_day"],
        },
    ),
    ("GET", "/api/v1/internships/classes/{class_id:int}/pupils"): case({"school_a", "admin"}),
    ("PUT", "/api/v1/internships/classes/{class_id:int}/pupils"): case(
        {"school_a", "admin"},
        lambda ids: [{"code": "N1", "first_name": "Neu", "wishes": [ids["period_a_id"]]}],
        on={"class_id": "open_class_id"},
    ),
    ("POST", "/api/v1/internships/rounds"): case(
        {"admin"}, lambda ids: {"classes": [ids["open_class_id"]], "seed": 1}
    ),
    ("GET", "/api/v1/internships/rounds/{round_id:int}"): case({"admin"}),
    ("POST", "/api/v1/internships/rounds/{round_id:int}/confirm"): case(
        {"admin"}, on={"round_id": "preview_round_id"}
    ),
    ("POST", "/api/v1/internships/rounds/{round_id:int}/discard"): case(
        {"admin"}, on={"round_id": "preview_round_id"}
    ),
    ("GET", "/api/v1/internships/placements"): case(MEMBERS),
    ("POST", "/api/v1/internships/placements/{placement_id:int}/confirm"): case(
        {"firm_a", "admin"}
    ),
    ("POST", "/api/v1/internships/placements/{placement_id:int}/cancel"): case(
        INSIDERS, lambda ids: {"reason": "r"}
    ),
    # The period has not ended: allowed, but refused as early (409).
    ("POST", "/api/v1/internships/placements/{placement_id:int}/attendance"): case(
        {"firm_a", "admin"}, lambda ids: {"days_attended": 1}
    ),
}
SCHOOLS = ("school_a", "school_b", "admin")  # admin may open every page
FIRMS = ("firm_a", "firm_b", "admin")
HOST_A = ("firm_a", "admin")  # firm A's own event, slot and booking
OFFICE = ("admin",)
NOBODY: tuple[str, ...] = ()  # opened only with a token that comes by mail, never by role

# Pages (session cookie, CSRF on POST) and calendar files (token in the URL, or the
# caller's session for an event's or itinerary's file). A tuple holds several objects.
PAGES: dict[tuple[str, str], Case | tuple[Case, ...]] = {
    ("GET", "/"): case(ROLES),
    ("GET", "/events/{ref:str}"): (
        case(ROLES, on={"ref": "event_id"}),
        case(ROLES, on={"ref": "event_ics"}),  # /events/{id}.ics
        case(HOST_A, on={"ref": "draft_event_id"}),
        case(HOST_A, on={"ref": "draft_event_ics"}),
    ),
    ("GET", "/events/{event_id:int}/calendar.ics"): (
        case(ROLES),
        case(HOST_A, on={"event_id": "draft_event_id"}),
    ),
    ("POST", "/events/{event_id:int}/register"): (
        case(ROLES, lambda ids: {"slot": ids["open_slot_id"], "name": "N", "email": "n@x.example"}),
        case(
            HOST_A,
            lambda ids: {"slot": ids["draft_slot_id"], "persons": 1},
            on={"event_id": "draft_event_id"},
        ),
    ),
    ("GET", "/confirmation"): case(ROLES),
    ("GET", "/language/{locale:str}"): case(ROLES),
    ("GET", "/signin"): case(ROLES),
    ("POST", "/signin"): case(ROLES, lambda ids: {"email": "nobody@x.example", "password": "x"}),
    ("POST", "/signout"): case(ROLES),
    ("GET", "/password/forgot"): case(ROLES),
    ("POST", "/password/forgot"): case(ROLES, lambda ids: {"email": "nobody@x.example"}),
    ("GET", "/password/set"): case(NOBODY, query=lambda ids: {"token": "forged"}),
    ("POST", "/password/set"): case(
        NOBODY,
        lambda ids: {
            "token": "forged",
            "password": "long-enough-pw-1",
            "password2": "long-enough-pw-1",
        },
    ),
    ("GET", "/bookings/{booking_id:int}/respond"): case(
        NOBODY, query=lambda ids: {"token": ids["respond_token_b"]}
    ),
    ("POST", "/bookings/{booking_id:int}/respond"): case(
        NOBODY, lambda ids: {"answer": "cancel", "token": ids["respond_token_b"]}
    ),
    # The booking page: its booker, host and the office; by a signed link, only the
    # booking the link was made for (school B's link opens nothing of school A's).
    ("GET", "/bookings/{booking_id:int}"): (
        case(INSIDERS),
        case(NOBODY, query=lambda ids: {"token": ids["view_token_b"]}),
    ),
    ("POST", "/bookings/{booking_id:int}/cancel"): (
        case(INSIDERS, lambda ids: {"reason": "r"}),
        case(NOBODY, lambda ids: {"reason": "r", "token": ids["view_token_b"]}),
    ),
    ("POST", "/bookings/{booking_id:int}/persons"): (
        case(("school_a", "admin"), lambda ids: {"pupils": "10", "adults": "1"}),
        case(NOBODY, lambda ids: {"pupils": "10", "token": ids["view_token_b"]}),
    ),
    ("POST", "/bookings/{booking_id:int}/confirm"): case(HOST_A),
    ("POST", "/bookings/{booking_id:int}/decline"): case(HOST_A, lambda ids: {"reason": "r"}),
    ("GET", "/school"): case(SCHOOLS),
    ("POST", "/school/feed/rotate"): case(MEMBERS),
    ("GET", "/school/book"): case(SCHOOLS),
    ("GET", "/school/book/{slot_id:int}"): case(SCHOOLS),
    ("POST", "/school/book/{slot_id:int}"): case(
        ("school_a", "school_b"),
        lambda ids: {"class_label": "9z", "grade": 9, "pupils": 5, "adults": 1},
    ),
    ("GET", "/school/bookings/{booking_id:int}/cancel"): case(("school_a", "admin")),
    ("POST", "/school/bookings/{booking_id:int}/cancel"): case(
        ("school_a", "admin"), lambda ids: {"reason": "r"}
    ),
    ("GET", "/firm"): case(FIRMS),
    ("GET", "/firm/events/new"): case(FIRMS),
    ("POST", "/firm/events/new"): case(FIRMS, lambda ids: {"kind": "open_day", "title": "Neu"}),
    ("GET", "/firm/events/{event_id:int}"): case(HOST_A),
    ("GET", "/firm/events/{event_id:int}/edit"): case(HOST_A),
    ("POST", "/firm/events/{event_id:int}/edit"): case(HOST_A, lambda ids: {"title": "X"}),
    ("POST", "/firm/events/{event_id:int}/cancel"): case(HOST_A, lambda ids: {"reason": "r"}),
    ("GET", "/firm/events/{event_id:int}/slots/new"): case(HOST_A),
    ("POST", "/firm/events/{event_id:int}/slots/new"): case(
        HOST_A, lambda ids: {"day": "2031-03-04", "start": "09:00", "end": "10:30", "capacity": 20}
    ),
    ("GET", "/firm/slots/{slot_id:int}/edit"): case(HOST_A),
    ("POST", "/firm/slots/{slot_id:int}/edit"): case(HOST_A, lambda ids: {"capacity": 40}),
    ("POST", "/firm/slots/{slot_id:int}/cancel"): case(HOST_A, lambda ids: {"reason": "r"}),
    ("GET", "/firm/events/{event_id:int}/series"): case(HOST_A),
    ("POST", "/firm/events/{event_id:int}/series"): case(HOST_A),
    ("POST", "/firm/bookings/{booking_id:int}/confirm"): case(HOST_A),
    ("POST", "/firm/bookings/{booking_id:int}/decline"): case(HOST_A, lambda ids: {"reason": "r"}),
    ("GET", "/firm/events/{event_id:int}/attendees"): case(HOST_A),
    ("GET", "/office"): case(OFFICE),
    ("GET", "/office/organisations"): case(OFFICE),
    ("POST", "/office/organisations"): case(
        OFFICE, lambda ids: {"kind": "firm", "slug": "new-firm", "name": "New"}
    ),
    ("GET", "/office/users"): case(OFFICE),
    ("POST", "/office/users"): case(
        OFFICE, lambda ids: {"email": "new@x.example", "role": "school", "org": "school-a"}
    ),
    ("GET", "/office/events"): case(OFFICE),
    ("GET", "/office/bookings"): case(OFFICE),
    ("GET", "/office/notifications"): case(OFFICE),
    ("POST", "/office/notifications/{notification_id:int}/retry"): case(OFFICE),
    ("GET", "/office/mails"): case(OFFICE),
    ("GET", "/office/mails/{name:str}"): case(OFFICE, on={"name": "mail_name"}),
    ("GET", "/office/holidays"): case(OFFICE),
    ("GET", "/office/audit"): case(OFFICE),
    ("GET", "/office/users/{user_id:int}"): case(OFFICE, on={"user_id": "user_b_id"}),
    ("POST", "/office/users/{user_id:int}"): case(
        OFFICE,
        lambda ids: {"name": "X", "role": "school", "org": "school-b", "language": "de"},
        on={"user_id": "user_b_id"},
    ),
    ("POST", "/office/users/{user_id:int}/active"): case(
        OFFICE, lambda ids: {"active": "0"}, on={"user_id": "user_b_id"}
    ),
    ("POST", "/office/users/{user_id:int}/reinvite"): case(OFFICE, on={"user_id": "user_b_id"}),
    # Your own data (the office too): a wrong password deletes nothing.
    ("GET", "/account"): case(MEMBERS),
    ("GET", "/account/export"): case(MEMBERS),
    ("POST", "/account/signout-everywhere"): case(MEMBERS),
    ("POST", "/account/calendar"): case(MEMBERS, lambda ids: {"delivery": "both"}),
    ("POST", "/account/delete"): case(
        MEMBERS, lambda ids: {"understood": "yes", "password": "not-the-password"}
    ),
    # A public registrant's address link: only the mailed token opens it.
    ("GET", "/bookings/{booking_id:int}/verify"): case(
        NOBODY, query=lambda ids: {"token": "forged"}
    ),
    ("POST", "/bookings/{booking_id:int}/verify"): case(NOBODY, lambda ids: {"token": "forged"}),
    # School A's parents' evening, to which firm A is invited.
    ("GET", "/school/evenings/new"): case(SCHOOLS),
    ("POST", "/school/evenings/new"): case(
        SCHOOLS,
        lambda ids: {
            "title": "Elternabend",
            "day": "2031-03-04",
            "start": "18:00",
            "end": "20:00",
            "capacity": 80,
        },
    ),
    ("GET", "/school/evenings/{event_id:int}"): case(
        ("school_a", "admin"), on={"event_id": "evening_id"}
    ),
    ("GET", "/school/evenings/{event_id:int}/edit"): case(
        ("school_a", "admin"), on={"event_id": "evening_id"}
    ),
    ("POST", "/school/evenings/{event_id:int}/edit"): case(
        ("school_a", "admin"),
        lambda ids: {
            "title": "Elternabend neu",
            "day": "2031-03-04",
            "start": "18:00",
            "end": "20:00",
            "capacity": 80,
        },
        on={"event_id": "evening_id"},
    ),
    ("POST", "/school/evenings/{event_id:int}/invite"): case(
        ("school_a", "admin"), lambda ids: {"firms": "firm-b"}, on={"event_id": "evening_id"}
    ),
    ("POST", "/school/invitations/{invitation_id:int}/withdraw"): case(("school_a", "admin")),
    ("POST", "/firm/invitations/{invitation_id:int}/accept"): case(("firm_a",)),
    ("POST", "/firm/invitations/{invitation_id:int}/decline"): case(("firm_a",)),
    # School A's class day (one visit at firm B).
    ("GET", "/school/plan"): case(SCHOOLS),
    ("POST", "/school/plan/book"): case(
        ("school_a", "school_b"),
        lambda ids: {
            "slot_ids": str(ids["slot_b_id"]),
            "class_label": "9y",
            "grade": 9,
            "pupils": 5,
            "adults": 1,
        },
    ),
    ("GET", "/school/itineraries/{itinerary_id:int}"): case(("school_a", "admin")),
    ("GET", "/school/itineraries/{itinerary_id:int}/print"): case(("school_a", "admin")),
    ("POST", "/school/itineraries/{itinerary_id:int}/cancel"): case(
        ("school_a",), lambda ids: {"reason": "r"}
    ),
    ("POST", "/school/itineraries/{itinerary_id:int}/visits/{booking_id:int}/cancel"): case(
        ("school_a", "admin"), lambda ids: {"reason": "r"}, on={"booking_id": "trip_booking_id"}
    ),
    ("POST", "/school/itineraries/{itinerary_id:int}/replace"): case(
        ("school_a",),
        lambda ids: {"booking": ids["trip_booking_id"], "slot": ids["slot_b_id"]},
    ),
    # Attendance of firm A's event (its slot has not begun: allowed, but refused as early).
    ("POST", "/firm/events/{event_id:int}/attendance"): case(
        HOST_A, lambda ids: {f"attended_{ids['booking_id']}": "20"}
    ),
    # The Bilanz: every member sees its own figures and the network totals.
    ("GET", "/reports"): case(MEMBERS),
    ("GET", "/reports/charts/{name:str}"): case(MEMBERS, on={"name": "chart_name"}),
    ("GET", "/reports/export/{name:str}"): case(MEMBERS, on={"name": "report_name"}),
    ("GET", "/reports/bookings/export"): case(MEMBERS),
    ("GET", "/office/workplan"): case(OFFICE),
    ("POST", "/office/workplan"): case(
        OFFICE, lambda ids: {"school_year": "2031/32", "title": "Plan"}
    ),
    ("POST", "/office/workplan/{plan_id:int}/priorities"): case(
        OFFICE, lambda ids: {"title": "Schwerpunkt"}
    ),
    ("POST", "/office/workplan/{plan_id:int}/milestones"): case(
        OFFICE,
        lambda ids: {"title": "M", "due_on": "2031-03-04", "metric": "pupils", "target": "5"},
    ),
    ("POST", "/office/milestones/{milestone_id:int}/events"): case(
        OFFICE, lambda ids: {"event_id": ids["event_id"]}
    ),
    ("GET", "/office/milestones/{milestone_id:int}/delete"): case(OFFICE),
    ("POST", "/office/milestones/{milestone_id:int}/delete"): case(OFFICE),
    ("GET", "/office/milestones/{milestone_id:int}/edit"): case(OFFICE),
    ("POST", "/office/milestones/{milestone_id:int}/edit"): case(
        OFFICE,
        lambda ids: {"title": "M2", "due_on": "2031-03-05", "metric": "pupils", "target": "6"},
    ),
    ("POST", "/office/milestones/{milestone_id:int}/events/{event_id:int}/unlink"): case(OFFICE),
    ("GET", "/office/priorities/{priority_id:int}/edit"): case(OFFICE),
    ("POST", "/office/priorities/{priority_id:int}/edit"): case(
        OFFICE, lambda ids: {"title": "Neu"}
    ),
    # Internship pages: firm A's offer, school A's classes, the office's rounds.
    ("GET", "/internships"): case(ROLES),
    ("GET", "/firm/internships"): case(FIRMS),
    ("GET", "/firm/internships/offers/new"): case(FIRMS),
    ("POST", "/firm/internships/offers/new"): case(
        FIRMS,  # each firm its own; the office names no host (422)
        lambda ids: {
            "occupation": "Graveur",
            "grades": "8",
            "p0_starts_on": ids["first_day"],
            "p0_ends_on": ids["last_day"],
            "p0_places": "2",
        },
    ),
    ("GET", "/firm/internships/offers/{offer_id:int}"): case(HOST_A),
    ("GET", "/firm/internships/offers/{offer_id:int}/edit"): case(HOST_A),
    ("POST", "/firm/internships/offers/{offer_id:int}/edit"): case(
        HOST_A, lambda ids: {"occupation": "Uhrmacher", "grades": "8", "status": "published"}
    ),
    ("POST", "/firm/internships/offers/{offer_id:int}/status"): case(
        HOST_A, lambda ids: {"status": "published"}
    ),
    ("POST", "/firm/internships/placements/{placement_id:int}/confirm"): case(HOST_A),
    # The period has not ended: allowed, but refused as early (a notice).
    ("POST", "/firm/internships/placements/{placement_id:int}/attendance"): case(
        HOST_A, lambda ids: {"days_attended": "1"}
    ),
    ("GET", "/school/internships"): case(SCHOOLS),
    ("POST", "/school/internships/classes"): case(
        SCHOOLS,
        lambda ids: {
            "class_label": "9x",
            "grade": "9",
            "starts_on": ids["first_day"],
            "ends_on": ids["last_day"],
        },
    ),
    ("GET", "/school/internships/classes/{class_id:int}"): case(("school_a", "admin")),
    ("GET", "/school/internships/classes/{class_id:int}/pupils"): case(("school_a", "admin")),
    ("POST", "/school/internships/classes/{class_id:int}/pupils"): case(
        ("school_a", "admin"),
        lambda ids: {"rows": "1", "code_0": "N1", "wish1_0": str(ids["period_a_id"])},
        on={"class_id": "open_class_id"},
    ),
    # No file: allowed, and refused as empty (422).
    ("POST", "/school/internships/classes/{class_id:int}/pupils/csv"): case(
        ("school_a", "admin"), on={"class_id": "open_class_id"}
    ),
    ("POST", "/school/internships/placements/{placement_id:int}/cancel"): case(
        ("school_a", "admin"), lambda ids: {"reason": "r"}
    ),
    ("GET", "/office/internships"): case(OFFICE),
    ("POST", "/office/internships/rounds"): case(
        OFFICE, lambda ids: {"classes": str(ids["open_class_id"]), "seed": "1"}
    ),
    ("GET", "/office/internships/rounds/{round_id:int}"): case(OFFICE),
    ("POST", "/office/internships/rounds/{round_id:int}/confirm"): case(
        OFFICE, on={"round_id": "preview_round_id"}
    ),
    ("POST", "/office/internships/rounds/{round_id:int}/discard"): case(
        OFFICE, on={"round_id": "preview_round_id"}
    ),
    ("POST", "/office/internships/placements/{placement_id:int}/cancel"): case(
        OFFICE, lambda ids: {"reason": "r"}
    ),
    ("GET", "/feeds/public.ics"): case(ROLES),
    # Each caller's own private feed (anonymous: a made-up token); the URL is the key.
    ("GET", "/feeds/private/{name:str}"): case(MEMBERS, on={"name": "feed_{role}"}),
    ("GET", "/itineraries/{name:str}"): case(("school_a", "admin"), on={"name": "itinerary_ics"}),
}
POLICY_OF: dict[tuple[str, str], tuple[Case, ...]] = {
    key: value if isinstance(value, tuple) else (value,)
    for key, value in {**POLICY, **PAGES}.items()
}
# The only routes left out of the matrix, with the reason.
ELSEWHERE = {
    "/schema": "OpenAPI documentation, public by design (tests/security/test_schemathesis.py)",
    "/static/": "static files (CSS, icons), public by design",
}


def app_routes() -> set[tuple[str, str]]:
    app = create_app(start_workers=False, use_pool=False)
    found = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            found.add((method, route.path))
    return found


def in_matrix(path: str) -> bool:
    return not path.startswith(tuple(ELSEWHERE))


def is_api(path: str) -> bool:
    return path.startswith("/api/")


CASES = [
    (method, path, index, role)
    for (method, path), cases in POLICY_OF.items()
    for index in range(len(cases))
    for role in ROLES
]


def test_every_route_has_a_policy():
    routes = {r for r in app_routes() if in_matrix(r[1])}
    assert len(routes) > len(POLICY), "pages and feeds must be found too"
    assert routes - set(POLICY_OF) == set(), "new routes need a line in POLICY or PAGES"
    assert set(POLICY_OF) - routes == set(), "POLICY names routes that no longer exist"
    objects = len(CASES) // len(ROLES)  # a route tried on several objects counts each
    print(
        f"authorisation matrix: {len(routes)} routes ({objects} route-object pairs)"
        f" x {len(ROLES)} roles = {len(CASES)} cases"
    )


async def build_scene() -> tuple[Any, dict[str, Any]]:
    world = await make_world()
    event_a = await make_event(world.firm_a, booking_mode="approval")
    slot_a = await make_slot(world.firm_a, event_a, capacity=30)
    placed = await place_booking(
        slot_a,
        BookingRequest(
            class_label="8a",
            grade=8,
            pupils=20,
            adults=2,
            contact_email=f"{MARKER}@school-a.example",
            notes=MARKER,
        ),
        by=world.school_a,
    )
    event_b = await make_event(world.firm_b)
    slot_b = await make_slot(world.firm_b, event_b, capacity=30)
    placed_b = await place_booking(
        slot_b,
        BookingRequest(
            class_label="7b",
            grade=7,
            pupils=10,
            adults=1,
            contact_email=f"{MARKER_B}@school-b.example",
            notes=MARKER_B,
        ),
        by=world.school_b,
    )
    # School A's class day: one visit at firm B in the afternoon.
    afternoon = await make_slot(world.firm_b, event_b, capacity=30, starts_at=at(school_day(), 14))
    trip = await book_itinerary(
        ItineraryIn(slot_ids=[afternoon], class_label="8c", grade=8, pupils=10, adults=1),
        by=world.school_a,
    )
    evening = await make_event(world.school_a, kind="parents_evening")
    await make_slot(world.school_a, evening, capacity=80, starts_at=at(school_day(), 18, 30))
    invited = await presenters.invite_firms(
        evening, InviteIn(firms=["firm-a"], message=MARKER), by=world.school_a
    )
    open_day = await make_event(world.firm_a, kind="open_day")
    open_slot = await make_slot(world.firm_a, open_day, capacity=30)
    draft = await make_event(world.firm_a, kind="open_day", status="draft")
    draft_slot = await make_slot(world.firm_a, draft, capacity=30)
    notification = await Notification.select(Notification.id).first()
    mail_name = "matrix-mail.eml"  # written beside the database by the scene fixture
    plan = await workplans.create_plan(WorkPlanIn(school_year="2030/31", title="P"), by=world.admin)
    await workplans.add_milestone(
        plan,
        MilestoneIn(title="M", due_on=date(2031, 3, 4), metric="pupils", target=5, owner="firm-a"),
        by=world.admin,
    )
    milestone = (await workplans.get_plan(plan, by=world.admin)).milestones[0].id
    priority = await workplans.add_priority(plan, PriorityIn(title="S"), by=world.admin)
    ids: dict[str, Any] = {
        **await internship_scene(world),
        "evening_id": evening,
        "invitation_id": invited.invited[0].id,
        "user_b_id": world.school_b.user_id,
        "trip_booking_id": trip.itinerary.bookings[0].id,
        "plan_id": plan,
        "milestone_id": milestone,
        "priority_id": priority,
        "name": "by-school",
        "report_name": "by-school",
        "chart_name": "month.svg",
        "event_id": event_a,
        "event_ics": f"{event_a}.ics",
        "draft_event_id": draft,
        "draft_event_ics": f"{draft}.ics",
        "draft_slot_id": draft_slot,
        "open_slot_id": open_slot,
        "slot_id": slot_a,
        "booking_id": placed.booking.id,
        "slot_b_id": slot_b,
        "itinerary_id": trip.itinerary.id,
        "itinerary_ics": f"{trip.itinerary.id}.ics",
        "notification_id": notification["id"],
        "mail_name": mail_name,
        "locale": "en",
        # A reminder link of school B's booking, used on school A's: it must open nothing.
        "respond_token_b": booking_link_token(placed_b.booking.id),
        "view_token_b": view_token(get_settings(), placed_b.booking.id),
        "feed_anonymous": "made-up-token.ics",
    }
    for role in MEMBERS:
        ids[f"feed_{role}"] = f"{await feed_token_for(by=getattr(world, role))}.ics"
    return world, ids


async def internship_scene(world: Any) -> dict[str, Any]:
    """School A's pupil (first name MARKER) placed at firm A, school B's (MARKER_B) at
    firm B, in one confirmed round; a second class of school A in a preview round."""
    offer_a = await make_offer(world.firm_a, places=2)
    offer_b = await make_offer(world.firm_b, places=2)
    class_a = await make_class(world.school_a, label="8a")
    class_b = await make_class(world.school_b, label="8b")
    await put_pupils(
        class_a.id,
        [PupilIn(code="A1", first_name=MARKER, wishes=[period_of(offer_a), period_of(offer_b)])],
        by=world.school_a,
    )
    await put_pupils(
        class_b.id,
        [PupilIn(code="B1", first_name=MARKER_B, wishes=[period_of(offer_b), period_of(offer_a)])],
        by=world.school_b,
    )
    confirmed = await rounds.preview_round(
        RoundIn(classes=[class_a.id, class_b.id], seed=1), by=world.admin
    )
    await rounds.confirm_round(confirmed.id, by=world.admin)
    open_class = await make_class(world.school_a, label="8d")
    await put_pupils(
        open_class.id, [PupilIn(code="D1", wishes=[period_of(offer_a)])], by=world.school_a
    )
    preview = await rounds.preview_round(RoundIn(classes=[open_class.id], seed=1), by=world.admin)
    [at_a] = [p for p in confirmed.placements if p.offer_period == period_of(offer_a)]
    first, last = class_dates()
    return {
        "class_id": class_a.id,
        "offer_id": offer_a.id,
        "open_class_id": open_class.id,
        "period_a_id": period_of(offer_a),
        "round_id": confirmed.id,
        "preview_round_id": preview.id,
        "placement_id": at_a.placement,
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
    }


def booking_link_token(booking_id: int) -> str:
    from outreach.links import respond_token

    return respond_token(get_settings(), booking_id)


@cache
def shared_app() -> Litestar:
    """One app for every case, so its templates compile once.

    Without rate limits: every case signs in, which the limiter would throttle.
    """
    set_settings(replace(get_settings(), rate_limit_per_minute=0))
    return create_app(start_workers=False, use_pool=False)


@dataclass
class Scene:
    world: Any
    ids: dict[str, Any]
    copy: Path  # the database file as build_scene left it


_scene: Scene | None = None


def _copy_database(source: Path, target: Path) -> None:
    """Page by page through SQLite's backup API: consistent even with a WAL beside it."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture
async def scene(engine: str, settings: Settings, tmp_path_factory: Any) -> Scene:
    """The world of build_scene, built once per process and restored before every case."""
    global _scene
    if _scene is None:
        await _empty_tables()
        world, ids = await build_scene()
        # Every member signs in with PASSWORD (hashed once; the sign-in path is the real one).
        await User.update({User.password_hash: hash_password(PASSWORD)}).where(
            User.email.is_in([getattr(world, role).email for role in MEMBERS])
        )
        copy = tmp_path_factory.mktemp("matrix") / "world.sqlite3"
        _copy_database(settings.sqlite_path, copy)
        _scene = Scene(world, ids, copy)
    else:
        _copy_database(_scene.copy, settings.sqlite_path)
    # The mail that /office/mails/{name} shows lives beside the database, not in it.
    mail_dir = settings.mail_dir
    mail_dir.mkdir(parents=True, exist_ok=True)
    (mail_dir / _scene.ids["mail_name"]).write_text(f"Subject: {MARKER}\n\nBooked.\n")
    return _scene


async def _empty_tables() -> None:
    for table in reversed(all_tables()):
        await table.delete(force=True)


@pytest.fixture
async def client(scene: Scene) -> AsyncIterator[Any]:
    async with AsyncTestClient(app=shared_app()) as test_client:
        yield test_client


_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: Any) -> str:
    page = await client.get("/signin")
    found = _CSRF.search(page.text)
    assert found, "the sign-in page has no CSRF field"
    return found.group(1)


async def sign_in(client: Any, email: str) -> None:
    form = {"email": email, "password": PASSWORD, "_csrf_token": await csrf_token(client)}
    response = await client.post("/signin", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text


async def snapshot() -> list[Any]:
    """Every row of every table but the logs, read at once over one SQLite connection
    (Piccolo's selects of the 28 tables, twice per case, were a third of the matrix's time)."""
    names = [
        table._meta.tablename
        for table in all_tables()
        if table._meta.tablename not in ("audit_entry", "notification")
    ]
    with closing(sqlite3.connect(get_settings().sqlite_path)) as conn:
        return [conn.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall() for name in names]


def fill(path: str, ids: dict[str, Any], on: dict[str, str], role: str) -> str:
    def value(match: re.Match[str]) -> str:
        key = on.get(match.group(1), match.group(1)).replace("{role}", role)
        return str(ids[key])

    return re.sub(r"\{(\w+):\w+\}", value, path)


def refused(response: Any) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    location = response.headers.get("location", "")
    return response.status_code == 303 and location.startswith("/signin?next=")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # rules live in the services
@pytest.mark.parametrize(
    ("method", "path", "index", "role"),
    CASES,
    ids=[f"{m} {p} #{i} {r}" for m, p, i, r in CASES],
)
async def test_route_by_role(client, scene, method, path, index, role):
    world, ids = scene.world, scene.ids
    spec = POLICY_OF[(method, path)][index]
    kwargs: dict[str, Any] = {"follow_redirects": False}
    body = spec.body(ids) if spec.body is not None else {}
    if is_api(path):
        kwargs["headers"] = bearer(world.tokens[role]) if role != "anonymous" else {}
        if spec.body is not None or method in ("POST", "PATCH"):
            kwargs["json"] = body
    else:
        # English, so that the CSRF refusal below can be told from a refusal by role.
        kwargs["headers"] = {"Accept-Language": "en"}
        if role != "anonymous":
            await sign_in(client, getattr(world, role).email)
        if method == "POST":
            kwargs["data"] = {**body, "_csrf_token": await csrf_token(client)}
    if spec.query is not None:
        kwargs["params"] = spec.query(ids)
    before = await snapshot()
    response = await client.request(method, fill(path, ids, spec.on, role), **kwargs)
    assert "did not come from this site" not in response.text, "the CSRF token was refused"
    assert response.status_code < 500, response.text
    # Every answer of every route names its charset once (a media type that names it
    # gets a second one from the framework).
    content_type = response.headers.get("content-type", "")
    assert content_type.lower().count("charset") <= 1, content_type
    if role in spec.allowed:
        assert not refused(response), response.text
    else:
        assert refused(response), response.text
        assert await snapshot() == before, "a refused request changed data"
    if role not in INSIDERS:
        assert MARKER not in response.text, "school A's booking leaked"
    if role not in INSIDERS_B:
        assert MARKER_B not in response.text, "school B's booking leaked"
