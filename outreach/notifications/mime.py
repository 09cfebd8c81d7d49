"""A booking notice's wire form, written directly: the MIME our mails need, no more.

Building an `EmailMessage` parses every header it is given and folds it again when
flattened: about 4 ms of a mail's CPU went to the `email` package (issue 21). A booking
notice is always the same shape (headers, then multipart/alternative of text, HTML and
maybe an iTIP part), so it is written here in one pass:

- header values come in one line each (the builders pass them through `one_line`);
  ASCII ones are folded at spaces beyond 78 characters, others become RFC 2047 encoded
  words (UTF-8, base64), as many as needed, one per line;
- a display name is quoted as `email.utils.formataddr` does, or one encoded word;
  an address that is not ASCII is written as it is and the mail needs SMTPUTF8;
- text parts are 7bit when ASCII with short lines, else quoted-printable (binascii's, in
  C): the mail is 7-bit clean and goes to any server as it is;
- the calendar part is base64 in 76-character lines, its CRLFs and folding kept.

The class day's and the presenters' mails (attachments, rarer) are still built as
`EmailMessage`s and flattened once by the transport.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Sequence

from outreach.notifications.transports import OutgoingMail

__all__ = ["alternative", "header_address", "write_mail"]

_LINE = 78  # the recommended header line length (RFC 5322), as policy.SMTP folds
_WORD_BYTES = 39  # bytes per encoded word: its line stays within 78 characters
_CRLF = b"\r\n"
_ADDRESS_HEADERS = ("From", "To", "Reply-To")
# What makes a display name need quotes, and what is escaped inside them (email.utils).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_ESCAPES = re.compile(r'[\\"]')


def header_address(address: str, name: str) -> tuple[str, bool]:
    """`name <address>` for a header, and whether the address needs SMTPUTF8."""
    if not name:
        return address, not address.isascii()
    return f"{_display_name(name)} <{address}>", not address.isascii()


def _display_name(name: str) -> str:
    """As `email.utils.formataddr` writes it: quoted if need be, or ONE encoded word
    (readers such as Python's keep the space between encoded words of a phrase)."""
    if not name.isascii():
        return _word(name.encode())
    if _SPECIALS.search(name):
        return '"' + _ESCAPES.sub(r"\\\g<0>", name) + '"'
    return name


def alternative(text: str, html: str, calendar: tuple[str, str] | None) -> list[bytes]:
    """The parts of multipart/alternative: text, HTML and the iTIP part (method, ical)."""
    parts = [_text_part("plain", text), _text_part("html", html)]
    if calendar is not None:
        method, ical = calendar
        parts.append(_base64_part(f'text/calendar; charset="utf-8"; method="{method}"', ical))
    return parts


def write_mail(
    headers: Sequence[tuple[str, str]],
    parts: Sequence[bytes],
    *,
    sender: str,
    recipients: Iterable[str],
    message_id: str,
    utf8: bool = False,
) -> OutgoingMail:
    """The mail: `headers` (name, one-line value) and a multipart/alternative of `parts`."""
    boundary = _boundary(parts)
    lines = [_header(name, value) for name, value in headers]
    lines.append(b"MIME-Version: 1.0")
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode())
    delimiter = b"\r\n--" + boundary.encode() + b"\r\n"
    data = b"".join(
        (
            _CRLF.join(lines),
            _CRLF,
            delimiter,
            delimiter.join(parts),
            b"\r\n--",
            boundary.encode(),
            b"--\r\n",
        )
    )
    return OutgoingMail(
        sender=sender,
        recipients=tuple(recipients),
        data=data,
        message_id=message_id,
        utf8=utf8,
    )


def _header(name: str, value: str) -> bytes:
    # Encoded words only where the value is text; an address header comes from
    # `header_address` (its names encoded, a non-ASCII address left for SMTPUTF8).
    if not value.isascii() and name not in _ADDRESS_HEADERS:
        value = _encoded_words(value)
    line = f"{name}: {value}"
    return (line if len(line) <= _LINE else _fold(line)).encode()


def _fold(line: str) -> str:
    """Fold at spaces so that lines keep to 78 characters where a space allows it."""
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > _LINE:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return "\r\n ".join(out)


def _encoded_words(value: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64), never splitting a character; a reader
    joins them without the spaces between them, where `_fold` may break the line."""
    words: list[str] = []
    chunk = bytearray()
    for char in value:
        encoded = char.encode()
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(_word(chunk))
            chunk = bytearray()
        chunk += encoded
    if chunk or not words:
        words.append(_word(chunk))
    return " ".join(words)


def _word(chunk: bytes | bytearray) -> str:
    return f"=?utf-8?b?{binascii.b2a_base64(chunk, newline=False).decode()}?="


def _text_part(subtype: str, text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    if body.isascii() and max(map(len, body.split("\n"))) <= _LINE:
        cte, encoded = "7bit", body.encode()
    else:
        cte, encoded = "quoted-printable", binascii.b2a_qp(body.encode(), istext=True)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    ).encode()
    return head + encoded.replace(b"\n", _CRLF)


def _base64_part(content_type: str, text: str) -> bytes:
    head = f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
    return head + base64.encodebytes(text.encode()).replace(b"\n", _CRLF)


def _boundary(parts: Sequence[bytes]) -> str:
    """A boundary that none of the parts contains."""
    while True:
        boundary = f"=_{secrets.token_hex(12)}"
        if not any(boundary.encode() in part for part in parts):
            return boundary
