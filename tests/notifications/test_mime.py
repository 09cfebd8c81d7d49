"""The booking notices' own MIME writer reads back as written, through the stdlib parser."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.notifications import mime
from outreach.notifications.mail import one_line

# Any text a template or a booker may produce (no surrogates, no NUL).
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_line = _text.map(one_line)


def _parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))


def _mail(subject: str, name: str, text: str, html: str, ical: str | None) -> bytes:
    to, utf8 = mime.header_address("lehrerin@schule.example", name)
    assert not utf8
    parts = mime.alternative(text, html, ("REQUEST", ical) if ical is not None else None)
    mail = mime.write_mail(
        [("Subject", subject), ("To", to), ("Message-ID", "<n-1@outreach.test>")],
        parts,
        sender="noreply@outreach.invalid",
        recipients=["lehrerin@schule.example"],
        message_id="<n-1@outreach.test>",
    )
    assert mail.data.isascii()  # 7-bit clean: any server takes it as it is
    return mail.data


@settings(max_examples=40, deadline=None)
@given(subject=_line, name=_line, text=_text, html=_text, ical=st.none() | _text)
def test_what_is_written_reads_back(
    subject: str, name: str, text: str, html: str, ical: str | None
) -> None:
    data = _mail(subject, name, text, html, ical)
    message = _parse(data)
    assert not message.defects
    assert str(message["Subject"]) == subject
    (address,) = message["To"].addresses
    assert (address.display_name, address.addr_spec) == (name, "lehrerin@schule.example")
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "text/html",
        *(["text/calendar"] if ical is not None else []),
    ]

    def written(value: str) -> str:  # any line end is one; the text ends with one
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        return value if value.endswith("\n") else value + "\n"

    def read(part: EmailMessage) -> str:  # the parser keeps the wire's CRLFs
        return str(part.get_content()).replace("\r\n", "\n")

    assert read(parts[0]) == written(text)
    assert read(parts[1]) == written(html)
    if ical is not None:
        assert parts[2].get_content() == ical  # byte for byte: base64
        assert parts[2].get_param("method") == "REQUEST"


def test_header_lines_stay_short_and_injections_stay_inside() -> None:
    subject = "Führung\r\nBcc: victim@evil.example " + "sehr lange Überschrift " * 8
    data = _mail(one_line(subject), one_line("Eve\r\nX-Injected: yes"), "Text", "<p>Text</p>", None)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Injected):", head, re.MULTILINE | re.IGNORECASE)
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert str(_parse(data)["Subject"]) == one_line(subject)


def test_a_non_ascii_address_asks_for_smtputf8() -> None:
    shown, utf8 = mime.header_address("jörg@schule.example", "Jörg")
    assert utf8 and shown.endswith("<jörg@schule.example>")
