"""`outreach serve` as a real process: the settings check, JSON logs, metrics, shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import TEST_REDIS_URL, TEST_SECRET, redis_namespace, require_service
from tests.test_cli import run

pytestmark = pytest.mark.processes  # each test starts outreach processes: not in --quick


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, **kwargs)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_serve_lists_every_wrong_setting_and_exits_2(tmp_path):
    result = run(
        tmp_path,
        "serve",
        extra_env={
            "DATABASE_URL": "mysql://db/outreach",
            "REDIS_URL": "localhost:6379",
            "SMTP_URL": "http://mail",
            "SECRET_KEY": "too-short",
            "BASE_URL": "outreach.example",
            "DB_POOL_MAX": "0",
            "RATE_LIMIT_PER_MINUTE": "lots",
        },
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: the configuration has problems:"
    named = [line.removeprefix("  - ").split(" ")[0] for line in lines[1:]]
    assert named == [
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "BASE_URL",
        "SECRET_KEY",
        "DB_POOL_MAX",
        "RATE_LIMIT_PER_MINUTE",
    ]
    assert not (tmp_path / "outreach.sqlite3").exists()  # nothing started


def test_secret_key_missing_with_postgres_exits_2(tmp_path):
    result = run(
        tmp_path,
        "serve",
        extra_env={"DATABASE_URL": "postgresql://postgres@127.0.0.1/none", "SECRET_KEY": ""},
    )
    assert result.returncode == 2
    assert "  - SECRET_KEY must be set when DATABASE_URL is set" in result.stderr


class Server:
    """`outreach serve` on the embedded database, its log lines collected as they come."""

    def __init__(
        self,
        data_dir: Path,
        extra_env: dict[str, str],
        extra_args: tuple[str, ...] = (),
        *,
        terminal: bool = False,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OUTREACH_DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET}
        for name in (
            "DATABASE_URL",
            "REDIS_URL",
            "SMTP_URL",
            "PROMETHEUS_MULTIPROC_DIR",
            "BASE_URL",
            "LOG_FORMAT",
        ):
            env.pop(name, None)
        env.update(extra_env)
        # On a terminal (a pseudo-terminal here) as a person runs it, or into a pipe.
        leader, follower = os.openpty() if terminal else (None, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "outreach.cli", "serve", "--port", str(self.port), *extra_args],
            env=env,
            stderr=follower if terminal else subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # stop() ends the server's worker processes too
        )
        if follower is not None:
            os.close(follower)
        self.stream = (
            open(leader, encoding="utf-8", errors="replace")  # noqa: SIM115 (closed in stop)
            if leader is not None
            else None
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "\n".join(self.lines)
            try:
                if fetch(self.base + "/health/live")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not come up:\n" + "\n".join(self.lines))

    def _read(self) -> None:
        stream = self.stream or self.process.stderr
        assert stream is not None
        try:
            for line in stream:
                self.lines.append(line.rstrip("\r\n"))
        except OSError:  # the terminal closes when the server has gone
            pass

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if self.stream is not None:
            self.reader.join(timeout=10)
            self.stream.close()


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    assert run(tmp_path, "migrate").returncode == 0
    made = run(tmp_path, "user", "create", "--email", "office@netz.example", "--role", "admin")
    assert made.returncode == 0, made.stderr
    (tmp_path / "token").write_text(made.stdout.strip().splitlines()[-1])
    running = Server(tmp_path, {"SHUTDOWN_DRAIN_SECONDS": "1.5", "RATE_LIMIT_PER_MINUTE": "0"})
    yield running
    running.stop()


def test_log_lines_are_json_with_the_request_id(server):
    status, headers, _ = fetch(
        server.base + "/api/v1/events", headers={"X-Request-ID": "lb-4711-abcd"}
    )
    assert status == 200 and headers["x-request-id"] == "lb-4711-abcd"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        access = [line for line in server.json_lines() if line.get("request_id") == "lb-4711-abcd"]
        if access:
            break
        time.sleep(0.1)
    assert access, server.lines
    line = access[-1]
    assert line["logger"] == "outreach.access" and line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/events", 200)
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("+00:00")
    # Every line the server writes is one JSON object, start-up lines included.
    assert all(line.startswith("{") for line in server.lines if line.strip()), server.lines


def test_at_a_terminal_without_base_url_links_and_logs_are_for_this_machine(tmp_path):
    """`outreach serve --port P` as a person starts it: text log lines, links to port P."""
    assert run(tmp_path, "migrate").returncode == 0
    made = run(tmp_path, "user", "create", "--email", "t@os.example", "--role", "admin")
    token = made.stdout.strip().splitlines()[-1]
    server = Server(tmp_path, {}, terminal=True)
    try:
        status, _, body = fetch(
            server.base + "/api/v1/me/feed/rotate",
            method="POST",
            data=b"{}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert status == 200, body
        links = json.loads(body)
        assert links["url"].startswith(f"http://127.0.0.1:{server.port}/"), links
        assert links["webcal"].startswith(f"webcal://127.0.0.1:{server.port}/"), links
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("/me/feed" in x for x in server.lines):
            time.sleep(0.1)
    finally:
        server.stop()
    shown = [line for line in server.lines if line.strip()]
    assert any(f"serving on http://127.0.0.1:{server.port} " in line for line in shown), shown
    access = [line for line in shown if "/api/v1/me/feed/rotate" in line]
    assert access and " INFO outreach.access: " in access[0], shown
    assert not any(line.startswith("{") for line in shown), shown


def test_metrics_answer_on_loopback_without_a_token(server):
    status, _, body = fetch(server.base + "/metrics")
    assert status == 200
    assert b"outreach_outbox_queue_depth" in body
    # Through a proxy on the same machine, the peer is loopback but the reader is not.
    spoofed = fetch(server.base + "/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert spoofed[0] == 403


def test_sigterm_lets_the_request_in_flight_finish(server, tmp_path):
    token = (tmp_path / "token").read_text()
    # Hold the database's write lock: the request below waits for it, in flight.
    holder = sqlite3.connect(tmp_path / "outreach.sqlite3", isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    answers: list[tuple[int, dict[str, str], bytes]] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            fetch(
                server.base + "/api/v1/me/feed/rotate",
                method="POST",
                data=b"{}",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        )
    )
    slow.start()
    time.sleep(1.0)
    assert answers == [] and slow.is_alive()

    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    ready = fetch(server.base + "/health/ready")
    assert ready[0] == 503 and json.loads(ready[2]) == {"status": "draining"}
    assert fetch(server.base + "/health/live")[0] == 200  # alive, just not taking new work

    time.sleep(2.0)  # past the drain: the server now waits for the request in flight
    assert server.process.poll() is None, "exited with a request in flight"
    assert answers == []
    holder.execute("COMMIT")
    holder.close()
    slow.join(timeout=30)
    assert answers and answers[0][0] == 200, answers
    assert json.loads(answers[0][2])["url"].endswith(".ics")
    # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
    assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert any("Application shutdown complete" in line for line in server.lines), server.lines


def test_metrics_of_several_server_processes_add_up(tmp_path):
    from redis import Redis

    try:
        Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
    except OSError as exc:
        require_service("Redis", str(exc))
    assert run(tmp_path, "migrate").returncode == 0
    env = {"REDIS_URL": TEST_REDIS_URL, "OUTREACH_BROKER_NAMESPACE": redis_namespace("t-metrics")}
    server = Server(tmp_path, env, ("--workers", "2"))
    try:
        # The second process may come up later than the first on a loaded machine: send
        # until both have served (each writes its own samples), at least 40 requests.
        metrics_dir = tmp_path / "metrics"

        def writers() -> set[str]:  # the pids in the sample files' names
            return {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("*.db")}

        sent, deadline = 0, time.monotonic() + 60
        while sent < 40 or (len(writers()) < 2 and time.monotonic() < deadline):
            assert fetch(server.base + "/api/v1/events")[0] == 200
            sent += 1

        def counted() -> float:  # the requests one scrape (on either process) counts
            status, _, body = fetch(server.base + "/metrics")
            assert status == 200
            line = next(
                row
                for row in body.decode().splitlines()
                if row.startswith("outreach_http_requests_total{")
                and 'route="/api/v1/events"' in row
                and 'status="200"' in row
            )
            return float(line.rsplit(" ", 1)[1])

        # A request is counted once its answer has gone out: let the last one land.
        settle = time.monotonic() + 10
        while counted() != sent and time.monotonic() < settle:
            time.sleep(0.05)
        for _ in range(12):  # scrapes land on either process; each must count every request
            assert counted() == float(sent)
        # Both processes served some of the requests: each wrote its own samples.
        assert len(writers()) >= 2, writers()
    finally:
        server.stop()
