"""compose.yaml, the Dockerfile and the lock stay valid (static: no Docker engine here).

The services exist and run commands the project's CLI has, the files they name are in
the repository, the web replicas sit behind one proxy port, and the image installs
exactly the locked, hashed versions of every dependency.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from outreach.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
LOCK = (ROOT / "requirements.lock").read_text()


def outreach_services() -> dict[str, dict]:
    return {n: s for n, s in SERVICES.items() if s.get("image") == "outreach:latest"}


def test_services_and_health_checks():
    assert {
        "postgres",
        "redis",
        "migrate",
        "web",
        "proxy",
        "worker",
        "scheduler",
        "mailcatcher",
    } <= set(SERVICES)
    for name in ("postgres", "redis", "web", "proxy"):
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
    for volume, service in (("pgdata", "postgres"), ("redisdata", "redis")):
        assert volume in COMPOSE["volumes"]
        assert any(v.startswith(f"{volume}:") for v in SERVICES[service]["volumes"])


def test_migration_runs_once_before_everything_that_uses_the_database():
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "scheduler"):
        condition = SERVICES[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_web_replicas_sit_behind_one_proxy_port():
    web, proxy = SERVICES["web"], SERVICES["proxy"]
    assert web["deploy"]["replicas"] >= 2
    assert "ports" not in web, "replicas cannot share a published port; the proxy has it"
    assert len(proxy["ports"]) == 1
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    mounts = [v.split(":") for v in proxy["volumes"]]
    config_files = [ROOT / source for source, target, *_ in mounts if source.startswith("./")]
    assert config_files and all(path.is_file() for path in config_files)
    caddyfile = config_files[0].read_text()
    web_port = web["command"][web["command"].index("--port") + 1]
    published = proxy["ports"][0].split(":")[-1]
    # The proxy listens where it is published and forwards to every web replica's port.
    assert re.search(rf"^:{published} {{", caddyfile, re.MULTILINE)
    assert re.search(r"^\s*name web$", caddyfile, re.MULTILINE)
    assert re.search(rf"^\s*port {web_port}$", caddyfile, re.MULTILINE)
    assert "respond /metrics 404" in caddyfile


def test_outreach_commands_exist_in_the_cli():
    services = outreach_services()
    assert set(services) == {"migrate", "web", "worker", "scheduler"}
    for service in services.values():
        command = service["command"]
        assert command[0] == "outreach"
        assert command[1] in main.commands, command
        options = {opt for p in main.commands[command[1]].params for opt in p.opts}
        for word in command[2:]:
            if word.startswith("--"):
                assert word in options, (command, word)
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["SMTP_URL"].startswith("smtp://")


def test_dockerfile_is_slim_not_root_and_copies_files_that_exist():
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert froms and all(image.endswith("-slim") for image in froms)
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.MULTILINE):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source


def test_the_image_installs_the_lock_with_hashes():
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)  # continuation lines as one
    assert re.search(
        r"pip (--python \S+ )?install --require-hashes --no-deps .*-r \S*requirements\.lock", joined
    )
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", LOCK, re.MULTILINE))
    blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", LOCK, flags=re.MULTILINE)
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    locked = {name.lower().replace("_", "-") for name in pinned}
    missing = {name.replace("_", "-") for name in names} - locked
    assert missing == set(), f"run scripts/lock.sh: {missing} not in requirements.lock"
