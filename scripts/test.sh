#!/bin/sh
# Run every test: installs what is missing (Debian packages, Python packages), starts
# PostgreSQL and Redis on loopback with data under var/test/, runs lint, type checks and
# pytest against them, and stops what it started, also when tests fail.
# Usage: make test [PYTEST_ARGS="-k deploy"]   (or: sh scripts/test.sh [pytest args])
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-test-deps.sh
REQ=requirements-dev.txt
. scripts/venv.sh
exec "$PY" scripts/testenv.py "$@"
