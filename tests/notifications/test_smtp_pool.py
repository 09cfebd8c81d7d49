"""The SMTP transport keeps its connections open: fewer connections than mails, every
mail once, also when the server restarts or drops a connection in between."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from outreach.notifications import transports
from outreach.notifications.transports import SmtpTransport


class _Handler:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.sessions: set[object] = set()  # one per connection that carried a mail
        self.data_commands = 0
        self.refuse_mail = 0  # answer this many MAIL FROM with 421 (and close)
        self.refuse_data = 0  # answer this many DATA with 421

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_mail > 0:
            self.refuse_mail -= 1
            return "421 4.4.2 Idle too long, closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return "421 4.3.2 Shutting down"
        head = envelope.content.split(b"\r\n\r\n", 1)[0].decode()
        found = [line for line in head.splitlines() if line.lower().startswith("message-id:")]
        self.ids.append(found[0].split(":", 1)[1].strip())
        self.sessions.add(session)
        return "250 Message accepted for delivery"


class _Server:
    """An aiosmtpd server on a fixed port, so that it can restart where it was."""

    def __init__(self) -> None:
        self.handler = _Handler()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def connections(self) -> int:
        return len(self.handler.sessions)


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    running = _Server()
    running.start()
    yield running
    await transports.close_smtp_connections()
    running.stop()


def _mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "outreach <noreply@outreach.invalid>"
    message["To"] = f"lehrerin{n}@schule.example"
    message["Subject"] = f"Erinnerung {n}"
    message["Message-ID"] = f"<pool-{n}@outreach.test>"
    message.set_content("Ihr Besuch ist morgen.\n")
    return message


async def _send_all(transport: SmtpTransport, numbers: range, concurrency: int = 4) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await transport.send(_mail(n))

    await asyncio.gather(*(one(n) for n in numbers))


def _expected(numbers: range) -> list[str]:
    return sorted(f"<pool-{n}@outreach.test>" for n in numbers)


async def test_mails_share_connections_and_survive_a_server_restart(server: _Server) -> None:
    transport = SmtpTransport("127.0.0.1", server.port)
    await _send_all(transport, range(40))
    assert sorted(server.handler.ids) == _expected(range(40))
    assert server.connections <= 4  # at most one per concurrent sender

    # The pooled connections die with the server; the next mails go over new ones.
    server.stop()
    server.start()
    await _send_all(transport, range(40, 80))
    assert sorted(server.handler.ids) == _expected(range(80))  # each mail exactly once
    assert server.connections <= 8


async def test_a_connection_dropped_before_the_mail_began_is_replaced_at_once(
    server: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    transport = SmtpTransport("127.0.0.1", server.port)
    await transport.send(_mail(1))
    server.handler.refuse_mail = 1  # the kept connection answers 421 to MAIL FROM
    with caplog.at_level(logging.INFO, logger=transports.__name__):
        await transport.send(_mail(2))
    assert server.handler.ids == ["<pool-1@outreach.test>", "<pool-2@outreach.test>"]
    assert server.connections == 2
    assert "reconnecting" in caplog.text


async def test_a_failure_after_data_began_is_not_resent_on_the_spot(server: _Server) -> None:
    """Whether the server took it is unknown: the outbox retries later, with backoff."""
    transport = SmtpTransport("127.0.0.1", server.port)
    await transport.send(_mail(1))
    server.handler.refuse_data = 1
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await transport.send(_mail(2))
    assert refused.value.code == 421
    assert server.handler.data_commands == 2  # no second DATA for mail 2
    await transport.send(_mail(2))  # the retry goes out over a fresh connection
    assert server.handler.ids == ["<pool-1@outreach.test>", "<pool-2@outreach.test>"]


async def test_a_connection_is_retired_after_so_many_mails(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transports, "SMTP_MAILS_PER_CONNECTION", 3)
    transport = SmtpTransport("127.0.0.1", server.port)
    for n in range(7):
        await transport.send(_mail(n))
    assert sorted(server.handler.ids) == _expected(range(7))
    assert server.connections == 3  # 3 + 3 + 1


async def test_an_idle_connection_is_closed_and_not_reused(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transports, "SMTP_IDLE_SECONDS", 0.05)
    transport = SmtpTransport("127.0.0.1", server.port)
    await transport.send(_mail(1))
    await asyncio.sleep(0.3)  # the reaper closes it meanwhile
    await transport.send(_mail(2))
    assert server.connections == 2


async def test_each_event_loop_has_its_own_connections(server: _Server) -> None:
    """As Dramatiq's loop and the web's loop in one process: no connection is shared."""
    transport = SmtpTransport("127.0.0.1", server.port)

    async def on_a_loop_of_its_own(numbers: range) -> None:
        await _send_all(transport, numbers, concurrency=2)
        await transports.close_smtp_connections()

    await asyncio.gather(
        asyncio.to_thread(asyncio.run, on_a_loop_of_its_own(range(0, 10))),
        asyncio.to_thread(asyncio.run, on_a_loop_of_its_own(range(10, 20))),
    )
    await transport.send(_mail(20))
    assert sorted(server.handler.ids) == _expected(range(21))
    assert 3 <= server.connections <= 5  # one or two per loop
    assert not any(loop.is_closed() for loop in transports._pools)  # finished loops let go


async def test_a_refused_recipient_is_still_a_permanent_failure(server: _Server) -> None:
    class Refusing(_Handler):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 No such user"

    server.handler = Refusing()
    server.stop()
    server.start()
    transport = SmtpTransport("127.0.0.1", server.port)
    with pytest.raises(transports.PermanentDeliveryError):
        await transport.send(_mail(1))
    assert server.handler.ids == []
