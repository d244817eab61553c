#!/bin/sh
# Run the portal on the embedded default: SQLite under var/, Celery eager, no services.
# Usage: make run   (or: sh scripts/run.sh)
set -eu
cd "$(dirname "$0")/.."
. scripts/venv.sh

export DEBUG="${DEBUG:-true}"
export PORTAL_DEMO_PASSWORD="${PORTAL_DEMO_PASSWORD:-demo-portal-2026}"
mkdir -p var
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py load_demo
ADDR="${PORTAL_ADDR:-127.0.0.1:8000}"
echo
echo "  Monitoring portal: http://$ADDR/"
echo "  Demo login:        demo / $PORTAL_DEMO_PASSWORD   (also alice, bob, carol)"
echo "  API docs:          http://$ADDR/api/schema/swagger-ui/"
echo
exec "$PY" manage.py runserver --noreload "$ADDR"
