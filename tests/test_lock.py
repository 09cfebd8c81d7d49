"""The lock files follow pyproject.toml (scripts/lockcheck.py, run by ./scripts/test).

The check runs as ./scripts/test runs it, as a process on a checkout; here on a copy of
pyproject.toml and both locks whose pyproject is then edited the ways people edit it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "lockcheck.py"
FILES = ("pyproject.toml", "requirements.lock", "requirements-dev.lock")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), "current", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_committed_locks_are_current():
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a dependency added
        ('"httpx>=0.27,<1",', '"httpx>=0.27,<1",\n    "attrs>=23",'),
        # a bound changed
        ('"httpx>=0.27,<1"', '"httpx>=0.27,<0.29"'),
        # a test tool's bound changed
        ('"pytest-xdist>=3.6,<4"', '"pytest-xdist>=3.7,<4"'),
        # an extra added
        ("[project.optional-dependencies]\n", '[project.optional-dependencies]\ndocs = ["mk"]\n'),
        # the build backend's bound changed
        ('"setuptools>=77,<85"', '"setuptools>=77,<86"'),
        ('requires-python = ">=3.11"', 'requires-python = ">=3.12"'),
    ],
    ids=["dependency-added", "bound", "test-extra", "new-extra", "build-backend", "python"],
)
def test_a_changed_dependency_without_relocking_fails(checkout: Path, old: str, new: str):
    edit(checkout / "pyproject.toml", old, new)
    result = check(checkout)
    assert result.returncode == 1
    assert "requirements.lock was locked from another pyproject.toml" in result.stderr
    assert "requirements-dev.lock was locked from another pyproject.toml" in result.stderr
    assert "run scripts/lock.sh" in result.stderr


def test_edits_that_do_not_change_a_resolution_pass(checkout: Path):
    pyproject = checkout / "pyproject.toml"
    edit(pyproject, "line-length = 100", "line-length = 99")
    edit(pyproject, '    "jinja2>=3.1,<4",\n', "")
    edit(pyproject, '    "httpx>=0.27,<1",\n', '    "httpx>=0.27,<1",\n    "jinja2>=3.1,<4",\n')
    edit(pyproject, "dependencies = [\n", "dependencies = [\n    # a new comment\n")
    result = check(checkout)
    assert result.returncode == 0, result.stderr


def test_a_hand_edited_or_unstamped_lock_fails(checkout: Path):
    dev = checkout / "requirements-dev.lock"
    version = re.search(r"^httpx==(\S+) ", dev.read_text(), re.MULTILINE).group(1)
    edit(dev, f"httpx=={version} ", "httpx==0.0.1 ")
    runtime = check(checkout)
    assert runtime.returncode == 1
    assert f"httpx: {version} in requirements.lock but 0.0.1 in requirements-dev.lock" in (
        runtime.stderr
    )
    lock = checkout / "requirements.lock"
    lock.write_text("\n".join(lock.read_text().splitlines()[3:]))
    unstamped = check(checkout)
    assert "requirements.lock has no '# pyproject-digest:' header" in unstamped.stderr


def test_the_dev_lock_holds_every_extra_and_the_build_backend():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = list(data["build-system"]["requires"])
    for deps in data["project"]["optional-dependencies"].values():
        wanted += deps
    names = {re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0].lower() for dep in wanted}
    locked = set(re.findall(r"^([a-z0-9-]+)==", (ROOT / "requirements-dev.lock").read_text(), re.M))
    assert {name.replace("_", "-") for name in names} - locked == set()
