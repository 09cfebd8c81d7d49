"""Where a finished mail goes: `.eml` files (embedded default) or an SMTP server.

A transport either hands the whole message over or raises; the outbox decides what
a failure means. `PermanentDeliveryError` says "retrying will not help" (the server
refused every recipient for good), anything else is worth another try.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = [
    "FileTransport",
    "PermanentDeliveryError",
    "SmtpTransport",
    "Transport",
    "list_stored_mails",
    "read_stored_mail",
    "transport_for",
]

log = logging.getLogger(__name__)

# Well under the claim's lease, so a hung server cannot outlive the claim.
SMTP_TIMEOUT_SECONDS = 30.0
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_STORED_NAME = re.compile(r"^[A-Za-z0-9._-]+\.eml$")


class PermanentDeliveryError(Exception):
    """The mail cannot be delivered as it is; the notification fails without retries."""


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class FileTransport:
    """Writes each mail as `<message-id>.eml`; a retry overwrites the same file."""

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / _file_name(message)
        # Write beside the target and rename: a reader never sees half a mail.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("mail %s written to %s", message["Message-ID"], target)


@dataclass(frozen=True, slots=True)
class SmtpTransport:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        """`smtp://[user:pass@]host[:port]` (STARTTLS when offered) or `smtps://` (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
        use_tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
        )

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
            raise
        log.info("mail %s sent to %s:%s", message["Message-ID"], self.hostname, self.port)


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SmtpTransport.from_url(settings.smtp_url)
    return FileTransport(settings.mail_dir)


def list_stored_mails(settings: Settings, *, limit: int = 100) -> list[str]:
    """Names of the newest `.eml` files, for the admin's mail page on the embedded default."""
    directory = settings.mail_dir
    if not directory.is_dir():
        return []
    files = [
        p for p in directory.iterdir() if _STORED_NAME.match(p.name) and not p.name.startswith(".")
    ]
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.name for p in files[:limit]]


def read_stored_mail(settings: Settings, name: str) -> bytes | None:
    """One stored mail by its name; a name that is not a plain `.eml` file name is refused."""
    if not _STORED_NAME.match(name) or name.startswith("."):
        return None
    path = settings.mail_dir / name
    return path.read_bytes() if path.is_file() else None


def _file_name(message: EmailMessage) -> str:
    message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    stem = _SAFE_NAME.sub("_", message_id).strip("._") or "mail"
    return f"{stem}.eml"
