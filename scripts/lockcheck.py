"""Checks that keep the lock files honest (standard library only: runs before .venv exists).

    python scripts/lockcheck.py digest              the digest scripts/lock.sh writes in the headers
    python scripts/lockcheck.py current             fail when pyproject.toml changed since the lock
    .venv/bin/python scripts/lockcheck.py installed fail when .venv differs from the dev lock
    /venv/bin/python lockcheck.py installed --lock requirements.lock   (the image's check)

The digest covers what decides a resolution: requires-python, the dependencies, every
extra and the build backend's requirements. Comments, ordering inside the TOML file and
the other tables (ruff, pytest) do not change it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.lock", "requirements-dev.lock")
HEADER = "# pyproject-digest: "
PROJECT = "outreach"  # installed from the checkout, not from the lock
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalise(name: str) -> str:
    """PEP 503 form of a distribution name, as the lock writes them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def digest(pyproject: Path) -> str:
    """sha256 over the parts of pyproject.toml that a lock is resolved from."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project", {})
    relevant = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            extra: sorted(deps)
            for extra, deps in sorted(project.get("optional-dependencies", {}).items())
        },
        "build-system.requires": sorted(data.get("build-system", {}).get("requires", [])),
    }
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(HEADER):
            return line[len(HEADER) :].strip()
        if not line.startswith("#"):
            break
    return None


def pins(lock: Path) -> dict[str, str]:
    """{normalised name: version} of every `name==version` in a lock file."""
    return {normalise(n): v for n, v in _PIN.findall(lock.read_text(encoding="utf-8"))}


def stale_locks(root: Path) -> list[str]:
    """One line per lock file that is missing, unstamped or resolved from another pyproject."""
    expected = digest(root / "pyproject.toml")
    problems = []
    for name in LOCKS:
        lock = root / name
        if not lock.exists():
            problems.append(f"{name} is missing")
            continue
        found = recorded_digest(lock)
        if found is None:
            problems.append(f"{name} has no '{HEADER.strip()}' header")
        elif found != expected:
            problems.append(f"{name} was locked from another pyproject.toml")
    if not problems:
        runtime, dev = (pins(root / name) for name in LOCKS)
        problems += [
            f"{name}: {version} in {LOCKS[0]} but {dev.get(name, 'absent')} in {LOCKS[1]}"
            for name, version in sorted(runtime.items())
            if dev.get(name) != version
        ]
    return problems


def installed_differences(lock: Path) -> list[str]:
    """Every locked package not installed at its locked version, and every unlocked one."""
    wanted = pins(lock)
    present = {normalise(d.metadata["Name"]): d.version for d in metadata.distributions()}
    problems = [
        f"{name}: locked {version}, installed {present.get(name, 'nothing')}"
        for name, version in sorted(wanted.items())
        if present.get(name) != version
    ]
    problems += [
        f"{name} {version} is installed but not locked"
        for name, version in sorted(present.items())
        if name not in wanted and name != PROJECT
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["digest", "current", "installed"])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to look at")
    parser.add_argument(
        "--lock", type=Path, help=f"for installed: the lock to compare with (default {LOCKS[1]})"
    )
    args = parser.parse_args(argv)
    if args.command == "digest":
        print(digest(args.root / "pyproject.toml"))
        return 0
    if args.command == "current":
        problems = stale_locks(args.root)
        for problem in problems:
            print(f"lock: {problem}", file=sys.stderr)
        if problems:
            print("lock: run scripts/lock.sh and commit the lock files", file=sys.stderr)
        return 1 if problems else 0
    lock = args.lock or args.root / LOCKS[1]
    problems = installed_differences(lock)
    for problem in problems:
        print(f"installed: {problem}", file=sys.stderr)
    if not problems:
        print(f"installed: all {len(pins(lock))} packages of {lock.name} at their locked versions")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
