"""A real OpenLDAP ``slapd`` on loopback with a small directory, for the LDAP sign-in tests.

Debian's slapd, started as the current user from a generated slapd.conf (mdb database under
var/test/), loaded offline with slapadd so that the directory is complete before the first bind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ldap

from tests.services.required import require_service

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "directory-admin-secret"
USER_PASSWORD = "user-secret-123"
START_DEADLINE_SECONDS = 30

# ada is in the posixGroup team-storage (memberUid), bob in the groupOfNames cc-ops and
# team-storage-gon (member DN); carol is in no group.
DIRECTORY = (
    f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=posix,ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: posix

dn: ou=names,ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: names
"""
    + "".join(
        f"""
dn: uid={uid},ou=people,{SUFFIX}
objectClass: inetOrgPerson
objectClass: posixAccount
uid: {uid}
cn: {given} {sn}
givenName: {given}
sn: {sn}
mail: {uid}@example.org
uidNumber: {number}
gidNumber: {number}
homeDirectory: /home/{uid}
userPassword: {USER_PASSWORD}
"""
        for uid, given, sn, number in (
            ("ada", "Ada", "Lovelace", 2001),
            ("bob", "Bob", "Builder", 2002),
            ("carol", "Carol", "Shaw", 2003),
        )
    )
    + f"""
dn: cn=team-storage,ou=posix,ou=groups,{SUFFIX}
objectClass: posixGroup
cn: team-storage
gidNumber: 3001
memberUid: ada

dn: cn=portal-admins,ou=posix,ou=groups,{SUFFIX}
objectClass: posixGroup
cn: portal-admins
gidNumber: 3002
memberUid: ada

dn: cn=team-storage-gon,ou=names,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: team-storage-gon
member: uid=bob,ou=people,{SUFFIX}

dn: cn=cc-ops,ou=names,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: cc-ops
member: uid=bob,ou=people,{SUFFIX}
"""
)

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {root}/slapd.pid
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{admin}"
rootpw {password}
directory {root}/data
access to attrs=userPassword by anonymous auth by * none
access to * by * read
"""


@dataclass(frozen=True)
class Directory:
    """A running slapd: its URI and where it keeps its files."""

    uri: str
    root: Path

    def modify(self, dn: str, changes: list[tuple[int, str, list[bytes]]]) -> None:
        """Change an entry as the directory admin (what an identity team does)."""
        connection = ldap.initialize(self.uri)
        try:
            connection.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
            connection.modify_s(dn, changes)
        finally:
            connection.unbind_s()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(uri: str) -> bool:
    connection = ldap.initialize(uri)
    connection.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
    try:
        connection.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
        return True
    except ldap.LDAPError:
        return False
    finally:
        connection.unbind_s()


def run_slapd(var_dir: Path) -> Iterator[Directory]:
    """Start slapd with the small directory; stop it and remove its files afterwards."""
    require_service("slapd", os.access(SLAPD, os.X_OK), f"{SLAPD} is missing (Debian package slapd)")
    root = var_dir / f"slapd-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "data").mkdir(parents=True)
    conf = root / "slapd.conf"
    conf.write_text(CONFIG.format(root=root, suffix=SUFFIX, admin=ADMIN_DN, password=ADMIN_PASSWORD))
    subprocess.run(
        [SLAPADD, "-f", str(conf), "-q"], input=DIRECTORY, text=True, check=True, capture_output=True
    )
    uri = f"ldap://127.0.0.1:{_free_port()}"
    log = (root / "slapd.log").open("w")
    # -d 0: stay in the foreground (so this process owns it) without debug output.
    process = subprocess.Popen([SLAPD, "-f", str(conf), "-h", uri + "/", "-d", "0"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not _answers(uri):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                require_service("slapd", False, (root / "slapd.log").read_text()[-2000:])
            time.sleep(0.1)
        yield Directory(uri=uri, root=root)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
