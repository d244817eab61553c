#!/bin/sh
# Install the Debian packages the test suite needs, when missing. Idempotent and quiet.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
have redis-server || need="$need redis-server"
have /usr/sbin/nagios4 || need="$need nagios4-core"
have /usr/sbin/icinga2 || need="$need icinga2"
have docker-compose || need="$need docker-compose"
have chromium || need="$need chromium"
have runuser || need="$need util-linux"
have puppet || need="$need puppet"
# kubectl renders deploy/kubernetes/ (kubectl kustomize) in tests/deploy/.
have kubectl || need="$need kubernetes-client"
# promtool checks the alerting rules of deploy/prometheus/ (tests/monitoring_portal/test_metrics_alerts.py).
have promtool || need="$need prometheus"
# slapd + ldap-utils: the LDAP sign-in tests' directory; the -dev headers build python-ldap.
have /usr/sbin/slapd || need="$need slapd ldap-utils"
[ -e /usr/include/ldap.h ] || need="$need libldap2-dev"
[ -e /usr/include/sasl/sasl.h ] || need="$need libsasl2-dev"
have gcc || need="$need gcc python3-dev"
# msgfmt: compilemessages builds the French interface (locale/) before the tests.
have msgfmt || need="$need gettext"
if [ -n "$need" ]; then
    echo "Installing Debian packages:$need"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # Package scripts must not start system services: the tests start their own, as this user.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    [ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi
