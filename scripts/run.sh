#!/bin/sh
# Run the portal on the embedded default: SQLite under var/, Celery eager, no services.
# Usage: make run   (or: sh scripts/run.sh)
set -eu
cd "$(dirname "$0")/.."
. scripts/venv.sh

export DEBUG="${DEBUG:-true}"
export PORTAL_DEMO_PASSWORD="${PORTAL_DEMO_PASSWORD:-demo-portal-2026}"
mkdir -p var
# The French interface: compiled here, never committed; without GNU gettext the pages stay English.
if command -v msgfmt >/dev/null 2>&1; then
    "$PY" manage.py compilemessages -v0 --ignore .venv --ignore var --ignore node_modules
else
    echo "  msgfmt not found: the interface stays in English (apt-get install gettext for French)." >&2
fi
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py load_demo
# The demo core (Icinga 2 with Livestatus, when installed) runs in its own session, so a signal
# to this terminal does not reach it: the trap stops it however the portal ends.
stop_core() {
    trap - EXIT INT TERM
    "$PY" manage.py demo_core stop >/dev/null || true
}
trap stop_core EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Says which core is attached, or that none is and how to attach one.
CORE="$("$PY" manage.py demo_core start)" || CORE="The demo core did not start (see above): no core attached."
ADDR="${PORTAL_ADDR:-127.0.0.1:8000}"
echo
echo "  Monitoring portal: http://$ADDR/"
echo "  Demo login:        demo / $PORTAL_DEMO_PASSWORD   (also alice, bob, carol)"
echo "  API docs:          http://$ADDR/api/schema/swagger-ui/"
echo "  $CORE"
echo
# Not exec: this shell stays to run the trap when the server ends.
"$PY" manage.py runserver --noreload "$ADDR"
