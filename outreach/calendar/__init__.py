"""Calendar building blocks below every feature: holidays, iCalendar primitives, changes.

`holidays.py` reads the public and school holidays, `ical.py` writes VTIMEZONE, VEVENT
and calendar framing (shared by the feeds and the mail invitations), `changes.py`
records "this changed" for the feed publisher.
"""
