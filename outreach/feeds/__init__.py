"""Calendar feeds: public, per-event and private iCalendar feeds, kept published by workers.

`ical.py` holds the iCalendar primitives (VTIMEZONE, VEVENT, calendar framing) that the
mail invitations share; `render.py` turns slots and bookings into VEVENT pieces;
`services.py` stores pieces and feeds and serves stored bytes; `api.py` is the HTTP side.
"""
