#!/bin/sh
# Regenerate requirements.lock (exact versions and hashes for the Docker image's Linux).
# Run after changing dependencies in pyproject.toml; commit both files together.
set -eu
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install --quiet "uv>=0.4,<1"
.venv/bin/uv pip compile pyproject.toml \
  --generate-hashes \
  --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 \
  --no-header \
  --output-file requirements.lock >/dev/null
