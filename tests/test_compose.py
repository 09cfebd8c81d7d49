"""compose.yaml stays valid: its services exist and run commands the project has."""

from __future__ import annotations

from pathlib import Path

import yaml

from outreach.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_services_and_health_checks():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "scheduler", "mailcatcher"} <= set(
        services
    )
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for volume in ("pgdata", "redisdata"):
        assert volume in COMPOSE["volumes"]


def test_outreach_commands_exist_in_the_cli():
    outreach_services = [
        s for s in COMPOSE["services"].values() if s.get("image") == "outreach:latest"
    ]
    assert len(outreach_services) == 4  # migrate, web, worker, scheduler
    for service in outreach_services:
        command = service["command"]
        assert command[0] == "outreach"
        assert command[1] in main.commands, command
        options = {p.opts[0] for p in main.commands[command[1]].params if p.opts}
        for word in command[2:]:
            if word.startswith("--"):
                assert word in options, (command, word)
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")


def test_dockerfile_is_slim_and_not_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-slim" in dockerfile.splitlines()[1]
    assert "\nUSER outreach" in dockerfile
