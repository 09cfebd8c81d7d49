#!/bin/sh
# The one way to update the lock files. Run it after changing a dependency, an extra or the
# build backend in pyproject.toml, and commit pyproject.toml and both lock files together
# (./scripts/test fails while they disagree). Both are for CPython 3.11 on manylinux x86_64
# (python:3.11-slim, the developers' and CI's machines), with every file's sha256:
#   requirements.lock      the runtime set; the Docker image installs exactly this
#   requirements-dev.lock  the same runtime pins plus the test, bench and lock tools, the
#                          build backend and pip (which installs uv, from this lock, into a
#                          new .venv); ./scripts/run, ./scripts/test and .ci/run install it
# Versions already locked are kept; pass --upgrade (or --upgrade-package NAME) to move them.
set -eu
cd "$(dirname "$0")/.."
. scripts/_venv.sh
digest=$(.venv/bin/python scripts/lockcheck.py digest)
build_requires=$(.venv/bin/python -c 'import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')

compile() {  # compile OUTPUT WHAT [uv arguments...]
  out=$1 what=$2
  shift 2
  .venv/bin/uv pip compile --quiet --generate-hashes --no-header \
    --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --output-file "$out" "$@"
  {
    echo "# $what"
    echo "# Written by scripts/lock.sh from pyproject.toml; do not edit by hand."
    echo "# pyproject-digest: $digest"
    grep -v '^# ' "$out" | grep -v '^#$' || true
  } >"$out.new"
  mv "$out.new" "$out"
}

compile requirements.lock "Runtime set: what the Docker image installs." pyproject.toml "$@"
printf '%s\npip\n' "$build_requires" | compile requirements-dev.lock \
  "Runtime set (the same pins) plus test, bench and lock tools, build backend and pip." \
  pyproject.toml - --all-extras --constraint requirements.lock "$@"
echo "requirements.lock: $(grep -c '==' requirements.lock) packages," \
  "requirements-dev.lock: $(grep -c '==' requirements-dev.lock) packages"
. scripts/_venv.sh
