"""The command line of API.md, run as a real process on the embedded database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["serve", "worker", "scheduler", "migrate", "demo", "org", "user"]

pytestmark = pytest.mark.processes  # each test starts outreach processes: not in --quick


def run(data_dir: Path, *args: str, extra_env: dict[str, str] | None = None):
    env = {**os.environ, "OUTREACH_DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET}
    for name in ("DATABASE_URL", "REDIS_URL", "SMTP_URL"):
        env.pop(name, None)
    env.update(extra_env or {})
    # `python -m outreach.cli` with the suite's cheap password hashing (tests/cheap_hashing.py).
    return subprocess.run(
        [sys.executable, "-m", "tests.cheap_hashing", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def count(data_dir: Path, table: str) -> int:
    with sqlite3.connect(data_dir / "outreach.sqlite3") as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(tmp_path, command):
    result = run(tmp_path, command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_migrate_is_safe_to_run_again(tmp_path):
    assert run(tmp_path, "migrate").returncode == 0
    second = run(tmp_path, "migrate")
    assert second.returncode == 0 and "migrations applied" in second.stdout


def test_org_and_user_create_print_a_working_token(tmp_path):
    assert run(tmp_path, "migrate").returncode == 0
    made = run(
        tmp_path, "org", "create", "--kind", "firm", "--slug", "uhrwerk", "--name", "Uhrwerk"
    )
    assert made.returncode == 0, made.stderr
    user = run(
        tmp_path,
        "user",
        "create",
        "--email",
        "Chef@Uhrwerk.example",
        "--role",
        "firm",
        "--org",
        "uhrwerk",
    )
    assert user.returncode == 0, user.stderr
    token = user.stdout.strip().splitlines()[-1]
    assert token.startswith("otk_") and len(token) > 40
    check = run(tmp_path, "user", "create", "--email", "chef@uhrwerk.example", "--role", "admin")
    assert check.returncode == 2 and "email" in check.stderr  # same address, other case
    with sqlite3.connect(tmp_path / "outreach.sqlite3") as conn:
        stored = conn.execute("SELECT verifier_hash FROM api_token").fetchone()[0]
    assert token.split("_")[-1] not in stored  # only a hash is kept


def test_unknown_org_exits_2_and_writes_nothing(tmp_path):
    assert run(tmp_path, "migrate").returncode == 0
    result = run(
        tmp_path,
        "user",
        "create",
        "--email",
        "a@b.example",
        "--role",
        "school",
        "--org",
        "no-such-school",
    )
    assert result.returncode == 2
    assert "no-such-school" in result.stderr and "Traceback" not in result.stderr
    assert count(tmp_path, "app_user") == 0
    bad_slug = run(tmp_path, "org", "create", "--kind", "firm", "--slug", "Bad Slug", "--name", "X")
    assert bad_slug.returncode == 2 and "slug" in bad_slug.stderr
    assert count(tmp_path, "organisation") == 0


def test_bad_setting_exits_2_with_the_variable_named(tmp_path):
    result = run(tmp_path, "migrate", extra_env={"DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2 and "DATABASE_URL" in result.stderr


def test_worker_needs_redis(tmp_path):
    result = run(tmp_path, "worker")
    assert result.returncode == 2 and "REDIS_URL" in result.stderr


def test_scheduler_once_runs_a_whole_tick_in_its_process(tmp_path):
    """`--once` is the tick of the running scheduler: feeds published, due mails sent."""
    assert run(tmp_path, "demo").returncode == 0
    waiting_changes = count(tmp_path, "feed_change")
    assert waiting_changes > 0, "the demo leaves feed changes for the scheduler"
    once = run(tmp_path, "scheduler", "--once")
    assert once.returncode == 0, once.stderr
    assert count(tmp_path, "feed_change") == 0
    assert count(tmp_path, "feed_piece") > 0
    with sqlite3.connect(tmp_path / "outreach.sqlite3") as conn:
        unsent = conn.execute(
            "SELECT count(*) FROM notification WHERE status != 'sent'"
        ).fetchone()[0]
    assert unsent == 0
