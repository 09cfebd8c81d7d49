"""Calendar feeds: public, per-event and private iCalendar feeds, kept published by workers.

`render.py` turns slots and bookings into VEVENT pieces (with the iCalendar primitives
of `outreach.calendar.ical`); `services.py` stores pieces and feeds and serves stored
bytes; `api.py` and `http.py` are the HTTP side. What changed is recorded by
`outreach.calendar.changes`, below every feature that changes events or bookings.
"""
