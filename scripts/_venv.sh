# Sourced by the scripts: make .venv hold exactly requirements-dev.lock (versions and
# sha256 of every file, installed by uv), then outreach itself, editable and without
# dependencies, built by the locked setuptools. Runs again whenever the lock or
# pyproject.toml changes; the install's output stays in .venv/install.log.
PYTHON="${PYTHON:-python3}"
_lock=requirements-dev.lock
_stamp=.venv/.installed-$(cat pyproject.toml "$_lock" | sha256sum | cut -c1-16)
if [ ! -f "$_stamp" ]; then
  _started=$(date +%s)
  echo "outreach: installing the $(grep -c '==' "$_lock") packages of $_lock" \
    "and outreach (editable) into .venv" >&2
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  : >.venv/install.log
  # uv itself comes from the lock too, checked against its hashes by pip.
  _uv=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$_lock")
  if [ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "$_uv" ]; then
    awk '/^uv==/ { on = 1 } on && !/^ *#/ { print; if (!/\\$/) exit }' "$_lock" >.venv/uv.lock.txt
    .venv/bin/python -m pip install --quiet --quiet --require-hashes --no-deps \
      --force-reinstall -r .venv/uv.lock.txt >>.venv/install.log 2>&1 \
      || { cat .venv/install.log >&2; return 1 2>/dev/null || exit 1; }
  fi
  # --compile-bytecode: the packages' .pyc written once here. Where PYTHONDONTWRITEBYTECODE
  # is set (as on this machine) no process writes them, and every process, each test
  # worker and each server or CLI command the tests start, compiled every library it
  # imported from source again (importing the app: 3.7 s of CPU instead of 1.3 s).
  if ! { .venv/bin/uv pip sync --compile-bytecode --python .venv/bin/python --require-hashes "$_lock" \
      && .venv/bin/uv pip install --python .venv/bin/python --no-deps --no-build-isolation \
        --verbose --editable . ; } >>.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "outreach: the install failed (log above, also in .venv/install.log)" >&2
    return 1 2>/dev/null || exit 1
  fi
  rm -f .venv/.installed-*
  touch "$_stamp"
  echo "outreach: installed in $(($(date +%s) - _started)) s" >&2
fi
unset _lock _stamp _started _uv
