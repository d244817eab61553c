"""The on-node snapshot of compiled notification preferences (no Django).

The portal compiles every contact's rules and writes them to each Naemon node;
the notify-filter reads one contact's file per notification. Layout::

    DIRECTORY/
      current -> gen-<time_ns>-<random>     symlink, swapped atomically
      gen-<time_ns>-<random>/
        manifest.json                       {"format", "generated_at", "contacts", ...}
        contacts/<contact_filename(name)>   one compiled contact (see below)
        cluster                             this node's part in the cluster (see below)
      .lock                                 serialises writers

``write_snapshot`` writes a complete new generation, then replaces ``current``
by renaming a new symlink over it, so a reader sees either the old or the new
snapshot, never a mix or a half. It keeps the previous generation (readers that
already resolved it keep working) and removes older ones.

A contact file is ``MAGIC + crc32 (4 bytes, big-endian) + marshal(compiled)``
where ``compiled`` is ``rulebook.compile_contact``'s output. ``marshal`` (format
4, readable by every Python 3) rather than JSON because the filter pays for
every import on every notification: ``json`` pulls in ``re`` and costs more
than the rest of the filter. The CRC turns a torn or damaged file into
``SnapshotCorrupt`` (the filter then sends: fail open). ``manifest.json`` is for
people and tools; the filter only looks at its mtime (= ``generated_at``) to
tell how old the snapshot is.

``cluster`` (``MAGIC + crc32 + marshal``, as a contact file) says who notifies what, so that
every node holding a copy of an object can run Naemon's notification logic while only one
lets the notification out (docs/cluster.md)::

    {"format": 1, "node": "master-a",              # the node this snapshot is for
     "nodes": ["master-a", "master-b", "poller-1"],  # the enabled nodes of the cluster
     "groups": {"web": "poller-1"},               # host group -> the poller that owns it
     "notifiers": {"": "master-a",                # share -> the node that notifies it:
                   "poller-1": "poller-1"}}       # "" = what no poller owns; a poller's objects

It is written in the same generation as the contacts (one ``current`` swap publishes both).
A snapshot without it (an older portal) has ``read_cluster`` answer None.
"""

from __future__ import annotations

import marshal

# posix, not os: the notify-filter reads snapshots, and os (with posixpath, stat and
# _collections_abc) is ~1 ms of its start once it runs without site (preferences/launcher.py).
# The writers, never on the filter's path, import os where they need it.
import posix
import time

from preferences import engine

# Not typing.TYPE_CHECKING: importing typing costs the filter ~25 ms; mypy
# treats any name TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping
    from typing import Any, TypedDict

    from preferences.engine import CompiledContact

    class ClusterPart(TypedDict):
        """Who notifies what, as the ``cluster`` file holds it (see the module docstring)."""

        format: int
        node: str
        nodes: list[str]
        groups: dict[str, str]
        notifiers: dict[str, str]

    StrPath = str | os.PathLike[str]

SNAPSHOT_FORMAT = 1
CURRENT = "current"
MANIFEST = "manifest.json"
CONTACTS = "contacts"
CLUSTER = "cluster"
CLUSTER_FORMAT = 1
_CONTACT_MAGIC = b"NPC%d" % engine.COMPILED_FORMAT
_CLUSTER_MAGIC = b"NPK%d" % CLUSTER_FORMAT
_MARSHAL_VERSION = 4


class SnapshotError(Exception):
    """The snapshot cannot be used."""


class SnapshotMissing(SnapshotError):
    """No complete snapshot has been written to this directory."""


class SnapshotCorrupt(SnapshotError):
    """A snapshot file is damaged or of another format."""


def join(path: str, *names: str) -> str:
    """``os.path.join`` for relative ``names`` (file names of the layout), without importing os."""
    for name in names:
        path = path + name if not path or path.endswith("/") else path + "/" + name
    return path


def contact_filename(contact: str) -> str:
    """A file name for a contact: unique, reversible for short names, safe for any name."""
    raw = contact.encode("utf-8", "surrogateescape")
    if len(raw) <= 100:
        return "c-" + raw.hex()
    import hashlib  # only for very long names: hashlib costs an import on the filter's path

    return "h-" + hashlib.sha256(raw).hexdigest()


def pack(value: Any, magic: bytes) -> bytes:
    """Frame a marshal-able value: magic, CRC-32 of the payload, payload."""
    from binascii import crc32

    payload = marshal.dumps(value, _MARSHAL_VERSION)
    return magic + crc32(payload).to_bytes(4, "big") + payload


def unpack(data: bytes, magic: bytes) -> object:
    """Reverse ``pack``; raise ``ValueError`` on a wrong magic, a bad CRC or bad data."""
    from binascii import crc32

    head = len(magic)
    if data[:head] != magic:
        raise ValueError(f"not a {magic!r} file")
    payload = data[head + 4 :]
    if crc32(payload).to_bytes(4, "big") != data[head : head + 4]:
        raise ValueError("checksum mismatch")
    try:
        # Our own writer's output, behind a checksum, in a directory only the portal
        # writes: not untrusted input. marshal because json's import is the slow part.
        return marshal.loads(payload)  # noqa: S302
    except (EOFError, TypeError) as exc:
        raise ValueError(f"bad payload: {exc}") from exc


def compile_snapshot(contacts: Mapping[str, Mapping[str, object]]) -> dict[str, CompiledContact]:
    """Compile every contact's preferences; a ``RuleError`` names the contact.

    ``contacts`` maps a Naemon contact name to ``{"rules": [rule dicts, in
    order], "default": "notify" | "suppress", "timezone": "Europe/Paris"}``
    (``default`` and ``timezone`` optional: ``"notify"``, ``"UTC"``; optional ``silences``,
    ``oncall``, ``handed_over`` and ``stand_in``: see ``rulebook.compile_contact``).
    """
    # Here, not at the top: the notify-filter reads snapshots and never compiles one.
    from preferences import rulebook

    compiled: dict[str, CompiledContact] = {}
    for name, prefs in contacts.items():
        if not isinstance(name, str) or not name:
            raise engine.RuleError("contact", f"expected a contact name, got {name!r}")
        unknown = sorted(
            set(prefs) - {"rules", "default", "timezone", "silences", "oncall", "handed_over", "stand_in"}
        )
        if unknown:
            raise engine.RuleError(f"{name}.{unknown[0]}", "unknown field")
        rules = prefs.get("rules") or []
        default = prefs.get("default", "notify")
        timezone = prefs.get("timezone", "UTC")
        try:
            if not isinstance(rules, list | tuple):
                raise engine.RuleError("rules", "expected a list of rules")
            if not isinstance(default, str):
                raise engine.RuleError("default", f"expected 'notify' or 'suppress', got {default!r}")
            if not isinstance(timezone, str):
                raise engine.RuleError("timezone", f"expected a time zone name, got {timezone!r}")
            compiled[name] = rulebook.compile_contact(
                rules,
                default=default,
                timezone=timezone,
                silences=prefs.get("silences") or (),  # type: ignore[arg-type]  # checked by the engine
                oncall=prefs.get("oncall"),  # type: ignore[arg-type]
                handed_over=prefs.get("handed_over") or (),  # type: ignore[arg-type]
                stand_in=prefs.get("stand_in"),  # type: ignore[arg-type]
            )
        except engine.RuleError as exc:
            raise engine.RuleError(f"{name}.{exc.field}", exc.message) from None
    return compiled


def cluster_part(
    node: str, nodes: Iterable[str], groups: Mapping[str, str], notifiers: Mapping[str, str | None]
) -> ClusterPart:
    """The ``cluster`` file's content, checked: a bad value raises ``ValueError`` before anything is written.

    ``notifiers`` maps a share to its notifier; a share nobody notifies (None: no master) is
    left out, so that the filter fails open for it.
    """
    names = sorted(set(nodes))
    for what, values in (
        ("node", [node]),
        ("nodes", names),
        ("groups", [*groups, *groups.values()]),
        ("notifiers", [*notifiers, *(v for v in notifiers.values() if v is not None)]),
    ):
        for value in values:
            if not isinstance(value, str) or (not value and what != "notifiers"):
                raise ValueError(f"cluster part: {what}: expected names, got {value!r}")
    return {
        "format": CLUSTER_FORMAT,
        "node": node,
        "nodes": names,
        "groups": dict(sorted(groups.items())),
        "notifiers": {share: name for share, name in sorted(notifiers.items()) if name},
    }


def write_snapshot(
    directory: StrPath,
    contacts: Mapping[str, Mapping[str, object]],
    *,
    cluster: ClusterPart | None = None,
    generated_at: float | None = None,
    keep: int = 2,
) -> str:
    """Compile ``contacts`` (see ``compile_snapshot``) and publish them atomically.

    ``cluster`` (``cluster_part``'s output) goes into the same generation; None writes none
    (the filter then lets every notification out of this node). ``generated_at`` (epoch
    seconds, default now) becomes the manifest's timestamp and mtime, from which the filter
    judges staleness: rewrite the snapshot periodically even when nothing changed. ``keep``
    generations (current included, at least 1) are kept. Returns the new generation's path.
    Validation happens before anything is written.
    """
    compiled = compile_snapshot(contacts)
    return write_compiled_snapshot(directory, compiled, cluster=cluster, generated_at=generated_at, keep=keep)


def write_compiled_snapshot(
    directory: StrPath,
    compiled: Mapping[str, CompiledContact],
    *,
    cluster: ClusterPart | None = None,
    generated_at: float | None = None,
    keep: int = 2,
) -> str:
    """Publish already compiled contacts (and the cluster part) atomically (see ``write_snapshot``)."""
    import fcntl
    import json
    import os  # not on the filter's path (see the import of posix)
    import tempfile

    if cluster is not None:
        cluster = cluster_part(cluster["node"], cluster["nodes"], cluster["groups"], cluster["notifiers"])
    root = os.fspath(directory)
    os.makedirs(root, exist_ok=True)
    when = time.time() if generated_at is None else generated_at
    lock_fd = os.open(os.path.join(root, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        generation = tempfile.mkdtemp(prefix=f"gen-{time.time_ns():020d}-", dir=root)
        os.chmod(generation, 0o755)  # noqa: S103 - Naemon's user reads it
        contacts_dir = os.path.join(generation, CONTACTS)
        os.mkdir(contacts_dir, 0o755)
        for name, contact in compiled.items():
            _write_new(os.path.join(contacts_dir, contact_filename(name)), pack(contact, _CONTACT_MAGIC))
        if cluster is not None:
            _write_new(os.path.join(generation, CLUSTER), pack(cluster, _CLUSTER_MAGIC))
        manifest = {
            "format": SNAPSHOT_FORMAT,
            "compiled_format": engine.COMPILED_FORMAT,
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
            "generated_at_epoch": when,
            "contacts": len(compiled),
            "cluster_node": None if cluster is None else cluster["node"],
        }
        manifest_path = os.path.join(generation, MANIFEST)
        _write_new(manifest_path, json.dumps(manifest, indent=2).encode() + b"\n")
        os.utime(manifest_path, (when, when))

        link = os.path.join(root, f".{CURRENT}-{os.getpid()}")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.basename(generation), link)
        os.replace(link, os.path.join(root, CURRENT))
        _remove_old_generations(root, os.path.basename(generation), max(keep, 1))
    finally:
        os.close(lock_fd)
    return generation


def _write_new(path: str, data: bytes) -> None:
    import os  # not on the filter's path (see the import of posix)

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _remove_old_generations(root: str, current: str, keep: int) -> None:
    import os  # not on the filter's path (see the import of posix)
    import shutil

    # Names sort by creation time; anything not kept is old or an abandoned write
    # (writers hold the lock, so nothing else is being written now).
    generations = sorted(
        (name for name in os.listdir(root) if name.startswith("gen-") and name != current),
        reverse=True,
    )
    for name in generations[keep - 1 :]:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def read_contact(directory: StrPath, contact: str) -> CompiledContact | None:
    """One contact's compiled preferences; ``None`` when the contact is not in the snapshot.

    Raises ``SnapshotMissing`` (no complete snapshot) or ``SnapshotCorrupt``.
    """
    found = _read_file(directory, join(CONTACTS, contact_filename(contact)), _CONTACT_MAGIC)
    if found is None:
        return None
    path, value = found
    if not isinstance(value, dict) or value.get("format") != engine.COMPILED_FORMAT:
        raise SnapshotCorrupt(f"corrupt snapshot file {path}: not a compiled contact")
    return value  # type: ignore[return-value]  # checked above as far as is cheap


def read_cluster(directory: StrPath) -> ClusterPart | None:
    """This node's part in the cluster; ``None`` when the snapshot has none (an older portal).

    Raises ``SnapshotMissing`` (no complete snapshot) or ``SnapshotCorrupt``.
    """
    found = _read_file(directory, CLUSTER, _CLUSTER_MAGIC)
    if found is None:
        return None
    path, value = found
    if (
        not isinstance(value, dict)
        or value.get("format") != CLUSTER_FORMAT
        or not isinstance(value.get("node"), str)
        or not isinstance(value.get("nodes"), list)
        or not isinstance(value.get("groups"), dict)
        or not isinstance(value.get("notifiers"), dict)
    ):
        raise SnapshotCorrupt(f"corrupt snapshot file {path}: not a cluster part")
    return value  # type: ignore[return-value]  # checked above as far as is cheap


def _read_file(directory: StrPath, name: str, magic: bytes) -> tuple[str, object] | None:
    """The unpacked file ``name`` of the current generation, and its path; None if the (complete)
    snapshot has no such file. Raises ``SnapshotMissing`` (no complete snapshot) or ``SnapshotCorrupt``."""
    current = join(posix.fspath(directory), CURRENT)
    path = join(current, name)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        try:
            posix.stat(join(current, MANIFEST))
        except OSError:  # what os.path.exists answers False for
            pass
        else:
            return None
        raise SnapshotMissing(f"no snapshot in {directory}") from None
    except OSError as exc:
        raise SnapshotCorrupt(f"unreadable snapshot file {path}: {exc}") from exc
    try:
        return path, unpack(data, magic)
    except ValueError as exc:
        raise SnapshotCorrupt(f"corrupt snapshot file {path}: {exc}") from exc


def generated_at(directory: StrPath) -> float:
    """When the current snapshot was generated (epoch seconds); ``SnapshotMissing`` if none."""
    try:
        return posix.stat(join(posix.fspath(directory), CURRENT, MANIFEST)).st_mtime
    except FileNotFoundError:
        raise SnapshotMissing(f"no snapshot in {directory}") from None


def read_manifest(directory: StrPath) -> dict[str, object]:
    """The current snapshot's manifest (for tools and tests)."""
    import json
    import os  # not on the filter's path (see the import of posix)

    try:
        with open(os.path.join(os.fspath(directory), CURRENT, MANIFEST), "rb") as file:
            manifest: dict[str, object] = json.load(file)
    except FileNotFoundError:
        raise SnapshotMissing(f"no snapshot in {directory}") from None
    return manifest
