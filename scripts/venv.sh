# Sourced by run.sh and test.sh: make .venv with Python 3.11 and the pinned requirements.
# Re-installs only when a requirements file changed (stamp file).
REQ="${REQ:-requirements.txt}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        # Debian ships venv separately.
        echo "python3-venv missing; installing it" >&2
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
        rm -rf .venv && "$PYTHON" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --upgrade pip
fi
STAMP=".venv/.installed-$(basename "$REQ")"
if [ ! -f "$STAMP" ] || [ requirements.txt -nt "$STAMP" ] || [ "$REQ" -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    # python-ldap (LDAP sign-in, django-auth-ldap) has no wheels on PyPI: it compiles against
    # the OpenLDAP and SASL headers, so `make run` needs them as much as `make test` does.
    build=""
    command -v gcc >/dev/null 2>&1 || build="$build gcc"
    [ -e "/usr/include/python3.11/Python.h" ] || build="$build python3-dev"
    [ -e /usr/include/ldap.h ] || build="$build libldap2-dev"
    [ -e /usr/include/sasl/sasl.h ] || build="$build libsasl2-dev"
    if [ -n "$build" ]; then
        echo "Installing Debian packages to build python-ldap:$build" >&2
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $build
    fi
    .venv/bin/python -m pip install -q -r "$REQ"
    # The project itself, so the notify-filter console script exists in .venv/bin.
    # compat mode: a plain .pth path entry, which costs nothing at interpreter start (the
    # notify-filter starts a Python process per notification).
    .venv/bin/python -m pip install -q --no-deps -e . --config-settings editable_mode=compat
    touch "$STAMP"
fi
# The notify-filter Naemon runs: a launcher that starts Python without site, in place of pip's
# console script (preferences/launcher.py). Checked every time: reinstalling the project writes
# pip's script back.
grep -qsF "notify-filter launcher" .venv/bin/notify-filter || .venv/bin/python -m preferences.launcher .venv/bin/notify-filter
PY=.venv/bin/python
