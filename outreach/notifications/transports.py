"""Where a finished mail goes: `.eml` files (embedded default) or an SMTP server.

A transport either hands the whole message over or raises; the outbox decides what
a failure means. It takes an `OutgoingMail` (the wire form, written once by the mail
builder, issue 21) or an `EmailMessage`, which it flattens once into one.
`PermanentDeliveryError` says "retrying will not help" (the server refused every
recipient for good), anything else is worth another try.

SMTP connections are kept open and reused: one small pool per server and per event
loop, since an asyncio connection belongs to the loop that opened it (a worker process
runs Dramatiq's one loop for all its threads, the web process its own). A connection
carries one mail at a time. A reused connection that the server closed meanwhile (idle
timeout, restart) fails on MAIL FROM, before DATA, so the mail is sent again at once on
a fresh connection: the server cannot have taken it. Once DATA has begun, a failure is
the outbox's to retry, as with a connection per mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib.email import extract_recipients, extract_sender

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = [
    "FileTransport",
    "OutgoingMail",
    "PermanentDeliveryError",
    "SmtpTransport",
    "StoredMail",
    "StoredMails",
    "Transport",
    "close_smtp_connections",
    "list_stored_mails",
    "read_stored_mail",
    "stored_mail_page",
    "transport_for",
]

log = logging.getLogger(__name__)

# Well under the claim's lease, so a hung server cannot outlive the claim.
SMTP_TIMEOUT_SECONDS = 30.0
# At most this many connections per server and event loop; more senders wait for one.
SMTP_POOL_SIZE = 8
# An idle connection is closed after this long: servers drop idle clients after a while
# (RFC 5321 asks for at least five minutes, some relays allow less).
SMTP_IDLE_SECONDS = 30.0
# Then QUIT and open another: some servers limit the mails per connection.
SMTP_MAILS_PER_CONNECTION = 100
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_STORED_NAME = re.compile(r"^[A-Za-z0-9._-]+\.eml$")


class PermanentDeliveryError(Exception):
    """The mail cannot be delivered as it is; the notification fails without retries."""


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A mail as it goes on the wire (CRLF lines), with its envelope."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str
    # An address is not ASCII: the server must offer SMTPUTF8 (as aiosmtplib asks).
    utf8: bool = False
    # Flattened from this message (else None): again with 7-bit encodings for a server
    # without 8BITMIME, when `data` is not ASCII. The builders' own mails are 7-bit.
    message: EmailMessage | None = None

    @classmethod
    def of(cls, message: EmailMessage) -> OutgoingMail:
        """`message` flattened once, as aiosmtplib's `send_message` would (Bcc left out)."""
        sender = extract_sender(message) or ""
        recipients = extract_recipients(message)
        utf8 = not (sender + "".join(recipients)).isascii()
        return cls(
            sender=sender,
            recipients=tuple(recipients),
            data=_flatten(message, policy.SMTPUTF8 if utf8 else policy.SMTP),
            message_id=str(message.get("Message-ID", "")),
            utf8=utf8,
            message=message,
        )

    def seven_bit(self) -> bytes:
        """The data for a server without 8BITMIME."""
        if self.data.isascii() or self.message is None:
            return self.data
        return _flatten(self.message, policy.SMTP.clone(cte_type="7bit"))


def outgoing(message: EmailMessage | OutgoingMail) -> OutgoingMail:
    return message if isinstance(message, OutgoingMail) else OutgoingMail.of(message)


def _flatten(message: EmailMessage, how: policy.EmailPolicy) -> bytes:
    shown = copy.copy(message)  # deleting rebinds the copy's header list only
    del shown["Bcc"]
    del shown["Resent-Bcc"]
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=how).flatten(shown)
    return buffer.getvalue()


class Transport(Protocol):
    async def send(self, message: EmailMessage | OutgoingMail) -> None: ...


@dataclass(frozen=True, slots=True)
class FileTransport:
    """Writes each mail as `<message-id>.eml`; a retry overwrites the same file."""

    directory: Path

    async def send(self, message: EmailMessage | OutgoingMail) -> None:
        await asyncio.to_thread(self._write, outgoing(message))

    def _write(self, mail: OutgoingMail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / _file_name(mail.message_id)
        # Write beside the target and rename: a reader never sees half a mail.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(mail.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("mail %s written to %s", mail.message_id, target)


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

    async def send(self, message: EmailMessage | OutgoingMail) -> None:
        mail = outgoing(message)
        try:
            await _pool_for(self).send(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
            raise
        log.info("mail %s sent to %s:%s", mail.message_id, self.hostname, self.port)


async def close_smtp_connections() -> None:
    """QUIT the idle SMTP connections of this event loop (shutdown, tests)."""
    with _pools_lock:
        pools = list(_pools.get(asyncio.get_running_loop(), {}).values())
    for pool in pools:
        await pool.close_idle()


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


@dataclass(frozen=True, slots=True)
class StoredMail:
    name: str
    written_at: datetime  # when the file was written (the mail's Date when it has one)
    recipient: str
    subject: str


@dataclass(frozen=True, slots=True)
class StoredMails:
    mails: list[StoredMail]
    total: int
    page: int
    last_page: int


def stored_mail_page(settings: Settings, *, page: int = 1, size: int = 50) -> StoredMails:
    """One page of the stored mails, newest first, with date, recipient and subject.

    Only the page's files are opened, and only their headers are read.
    """
    directory = settings.mail_dir
    files = (
        [
            p
            for p in directory.iterdir()
            if _STORED_NAME.match(p.name) and not p.name.startswith(".")
        ]
        if directory.is_dir()
        else []
    )
    stamped = sorted(((p.stat().st_mtime, p) for p in files), key=lambda f: f[0], reverse=True)
    last_page = max((len(stamped) + size - 1) // size, 1)
    page = min(max(page, 1), last_page)
    parser = BytesHeaderParser(policy=policy.default)
    mails = []
    for mtime, path in stamped[(page - 1) * size : page * size]:
        with path.open("rb") as handle:
            headers = parser.parse(handle)
        mails.append(
            StoredMail(
                name=path.name,
                written_at=_date_of(headers.get("Date"), mtime),
                recipient=str(headers.get("To", "")),
                subject=str(headers.get("Subject", "")),
            )
        )
    return StoredMails(mails, len(stamped), page, last_page)


def _date_of(header: Any, mtime: float) -> datetime:
    try:
        found = parsedate_to_datetime(str(header)) if header else None
    except (TypeError, ValueError):
        found = None
    if found is None or found.tzinfo is None:
        return datetime.fromtimestamp(mtime, tz=UTC)
    return found


def read_stored_mail(settings: Settings, name: str) -> bytes | None:
    """One stored mail by its name; a name that is not a plain `.eml` file name is refused."""
    if not _STORED_NAME.match(name) or name.startswith("."):
        return None
    path = settings.mail_dir / name
    return path.read_bytes() if path.is_file() else None


def _file_name(message_id: str) -> str:
    message_id = message_id.strip().strip("<>")
    stem = _SAFE_NAME.sub("_", message_id).strip("._") or "mail"
    return f"{stem}.eml"


# --------------------------------------------------------------------------- SMTP pool


class _Client(aiosmtplib.SMTP):
    """Notes whether DATA began: before it, the server cannot have taken the mail."""

    data_started = False

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_started = True
        return await super().data(*args, **kwargs)


@dataclass(eq=False)
class _Connection:
    client: _Client
    mails: int = 0
    idle_since: float = 0.0

    async def send(self, mail: OutgoingMail) -> None:
        client = self.client
        client.data_started = False
        try:
            await _send(client, mail)
        except BaseException:
            # The session's state is unknown (half a transaction, a cancelled read).
            self.client.close()
            raise
        self.mails += 1

    def usable(self, now: float) -> bool:
        return self.client.is_connected and now - self.idle_since < SMTP_IDLE_SECONDS


class _Pool:
    """Open connections to one server, used from one event loop only (no locks needed)."""

    def __init__(self, transport: SmtpTransport) -> None:
        self._transport = transport
        self._idle: list[_Connection] = []
        self._free = asyncio.Semaphore(SMTP_POOL_SIZE)
        self._reaper: asyncio.TimerHandle | None = None
        self._quitting: set[asyncio.Task[None]] = set()

    async def send(self, mail: OutgoingMail) -> None:
        async with asyncio.timeout(SMTP_TIMEOUT_SECONDS):
            await self._free.acquire()
        try:
            connection = self._take()
            if connection is not None:
                try:
                    await connection.send(mail)
                except Exception as exc:
                    if not _dropped_before_data(exc, connection.client):
                        raise
                    log.info("SMTP connection to %s:%s was closed; reconnecting", *self._address)
                else:
                    self._give_back(connection)
                    return
            connection = await self._connect()
            await connection.send(mail)
            self._give_back(connection)
        finally:
            self._free.release()

    async def close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await _quit(connection.client)

    @property
    def _address(self) -> tuple[str, int]:
        return self._transport.hostname, self._transport.port

    def _take(self) -> _Connection | None:
        """The most recently used open connection; stale ones are closed on the way."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now):
                return connection
            self._retire(connection)
        return None

    def _give_back(self, connection: _Connection) -> None:
        if not connection.client.is_connected:
            return
        if connection.mails >= SMTP_MAILS_PER_CONNECTION:
            self._retire(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().call_later(SMTP_IDLE_SECONDS, self._reap)

    def _reap(self) -> None:
        """Close connections idle too long, so that idle workers hold no sockets."""
        self._reaper = None
        now = time.monotonic()
        keep = [c for c in self._idle if c.usable(now)]
        for connection in self._idle:
            if connection not in keep:
                self._retire(connection)
        self._idle = keep
        if keep:
            self._reaper = asyncio.get_running_loop().call_later(SMTP_IDLE_SECONDS, self._reap)

    def _retire(self, connection: _Connection) -> None:
        """QUIT in the background: a slow QUIT must not hold up a mail that went out."""
        if not connection.client.is_connected:
            connection.client.close()
            return
        task = asyncio.get_running_loop().create_task(_quit(connection.client))
        self._quitting.add(task)  # a strong reference until it is done
        task.add_done_callback(self._quitting.discard)

    async def _connect(self) -> _Connection:
        t = self._transport
        client = _Client(
            hostname=t.hostname,
            port=t.port,
            username=t.username,
            password=t.password,
            use_tls=t.use_tls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
        await client.connect()  # STARTTLS when offered, then login, as aiosmtplib.send
        return _Connection(client)


async def _send(client: _Client, mail: OutgoingMail) -> None:
    """The bytes as they are, with the options aiosmtplib's `send_message` would ask."""
    if not mail.sender or not mail.recipients:
        raise ValueError("the mail names no sender or no recipient")
    if client.is_ehlo_or_helo_needed:  # the extensions below are the EHLO's answer
        await client._ehlo_or_helo_if_needed()
    options = []
    if mail.utf8:
        if not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported(
                "An address containing non-ASCII characters was provided, but "
                "SMTPUTF8 is not supported by this server"
            )
        options.append("SMTPUTF8")
    data = mail.data
    if client.supports_extension("8BITMIME"):
        options.append("BODY=8BITMIME")
    else:
        data = mail.seven_bit()
    await client.sendmail(mail.sender, list(mail.recipients), data, mail_options=options)


def _dropped_before_data(exc: Exception, client: _Client) -> bool:
    """The server went away before this mail's DATA: sending it anew cannot double it."""
    if client.data_started:
        return False
    if isinstance(exc, ConnectionError):  # SMTPServerDisconnected among them
        return True
    # 421: the server closes the channel (shutting down, idle timeout).
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421


async def _quit(client: _Client) -> None:
    with contextlib.suppress(Exception):
        await client.quit(timeout=5)
    client.close()


# A pool per event loop, looked up from any thread that runs a loop.
_pools: dict[asyncio.AbstractEventLoop, dict[SmtpTransport, _Pool]] = {}
_pools_lock = threading.Lock()


def _pool_for(transport: SmtpTransport) -> _Pool:
    loop = asyncio.get_running_loop()
    with _pools_lock:
        for gone in [other for other in _pools if other.is_closed()]:
            del _pools[gone]  # their sockets close as the connections are collected
        pools = _pools.setdefault(loop, {})
        pool = pools.get(transport)
        if pool is None:
            pool = pools[transport] = _Pool(transport)
    return pool


def _forget_pools() -> None:
    """In a forked child: the parent's connections are not the child's to use."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)
