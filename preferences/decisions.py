"""The notify-filter's decision logs, read where they are written: on each Naemon node.

The filter appends one JSON line per decision to its ``--log`` (``NaemonNode.notify_paths()``) on the
node that sent (or suppressed) the notification. The wall's "most notified" panel and the
home page's "my recent notifications" need them on the portal, which usually runs
elsewhere. So each node's worker reads its own log *incrementally*
(``preferences.tasks.collect_notification_log``, enqueued once per ``WALL_TOPS_SECONDS`` by
the status refresh, ``livestatus.tasks``) and keeps in Redis what the pages show:

- ``portal:notifications:<node>:sent:<hour>``: a hash contact → notifications sent in
  that hour (UTC, epoch hour); each bucket expires 26 h after its hour began, so the last
  24 h are the 25 newest buckets.
- ``portal:notifications:<node>:recent:<contact>``: the contact's ``RECENT_KEPT`` latest
  decisions on that node, newest first (JSON: time, host, service, state, type,
  channel, decision, rule, reason); kept ``KEPT_SECONDS`` after the last one.
- ``portal:notifications:<node>:object:<host>\0<service>``: the decisions about one
  object on that node (a sorted set by decision time; ``OBJECT_SECONDS`` back, at most
  ``OBJECT_KEPT``), so that the object's history can say what became of each
  notification line of the core's log (``match_notifications``).
- ``portal:notifications:<node>:log``: where the reader stopped: the file's device and
  inode, the byte offset after the last whole line read, and a fingerprint of the first
  bytes (so that a file truncated and written again past the offset is still noticed).

Each chunk's counts, recents and the new offset are written in one Redis transaction,
watched on the offset key: a line is counted once even when two runs overlap or a run
dies half-way. Rotation by rename (``decisions.log`` → ``decisions.log.1``, a new file)
and by copy-and-truncate: the rest of the old file is read from its new name (found among
``decisions.log*`` beside it by inode or by fingerprint), then the new file from its
start. A log seen for the first time is read from its last ``FIRST_READ_BYTES`` only.

Without Redis (``make run``, one machine) the pages read the files directly, as before:
``decision_logs``, ``read_decisions`` and ``most_notified``.

The writer is ``preferences.notify_filter`` (``write_log``); this module is its reader. No
Django here: the collector runs on the nodes' workers and in tests as a plain library.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "portal:notifications"
HOUR = 3600
DAY = 86400
#: Hourly buckets read for "the last 24 hours" (the current, partial one included).
BUCKETS = DAY // HOUR + 1
#: How long a bucket lives after its hour began (the last 24 h, and an hour of slack).
BUCKET_SECONDS = DAY + 2 * HOUR
#: Decisions kept per node and contact for the home page.
RECENT_KEPT = 50
#: Recent lists and reader offsets expire this long after they were last written.
KEPT_SECONDS = 30 * DAY
#: A log seen for the first time: only its end is read (logs grow without bound).
FIRST_READ_BYTES = 2 * 1024 * 1024
#: Read and committed per Redis transaction, and at most per run (the rest: next run).
CHUNK_BYTES = 1024 * 1024
RUN_BYTES = 16 * 1024 * 1024
#: The fingerprint covers this many bytes of the file's start.
HEAD_BYTES = 256
FIELD_CHARS = 500
CONTACT_CHARS = 200
RECENT_FIELDS = ("time", "host", "service", "state", "type", "channel", "decision", "rule", "reason")
#: An object's decisions are kept as long as its history looks back (7 days), and a day more.
OBJECT_SECONDS = 8 * DAY
#: At most this many per object and node (a flapping object must not grow a key without bound).
OBJECT_KEPT = 2000
OBJECT_KEY_CHARS = 1000
OBJECT_FIELDS = ("time", "contact", "channel", "type", "state", "id", "decision", "rule", "reason")
#: How far apart a core's notification line and the filter's decision may be. Naemon logs the
#: line before its worker runs the command (a busy worker runs it later); Icinga 2 after the
#: command returned (up to its timeout later). Re-notifications are minutes apart.
MATCH_SECONDS = 60.0
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".z")


# -- keys ----------------------------------------------------------------------


def state_key(node: int | str) -> str:
    """Where the reader of a node's log stopped."""
    return f"{KEY_PREFIX}:{node}:log"


def bucket_key(node: int | str, hour: int) -> str:
    """Notifications sent per contact on a node in one epoch hour."""
    return f"{KEY_PREFIX}:{node}:sent:{hour}"


def recent_key(node: int | str, contact: str) -> str:
    """A contact's latest decisions on a node."""
    return f"{KEY_PREFIX}:{node}:recent:{contact}"


def object_key(node: int | str, host: str, service: str) -> str:
    """The decisions about one host (``service`` empty) or service on a node.

    NUL separates host and service: no Naemon name can contain one.
    """
    return f"{KEY_PREFIX}:{node}:object:{host}\0{service}"


# -- lines -----------------------------------------------------------------------


def decision_time(value: Any) -> float | None:
    """The filter's ``time`` field (``2026-12-01T20:00:00.123Z``) as a Unix time; None if it is not one."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One decision record with ``_ts`` (its time, or None); None for what is not a JSON object."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    record["_ts"] = decision_time(record.get("time"))
    return record


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > FIELD_CHARS:
        return value[:FIELD_CHARS] + "…"
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def recent_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What the home page keeps of a decision."""
    return {field: _short(record.get(field)) for field in RECENT_FIELDS}


def object_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What an object's history keeps of a decision."""
    return {field: _short(record.get(field)) for field in OBJECT_FIELDS}


# -- direct reads (no Redis: the portal and the filter share a machine) --------------


def decision_logs(log_paths: Iterable[str]) -> list[Path]:
    """The decision logs among these (``NaemonNode.notify_paths().decision_log``) that this process can read."""
    paths = []
    for log in dict.fromkeys(log_paths):
        path = Path(log)
        if log and path.is_file():
            paths.append(path)
    return paths


def _tail_lines(path: Path, max_bytes: int) -> list[bytes]:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        data = handle.read()
    lines = data.split(b"\n")
    if size > max_bytes:
        lines = lines[1:]  # the first one is cut
    return [line for line in lines if line.strip()]


def read_decisions(paths: Iterable[Path], *, max_bytes: int = FIRST_READ_BYTES) -> Iterator[dict[str, Any]]:
    """Decision records from the end of each log (unreadable logs and lines are skipped)."""
    for path in paths:
        try:
            lines = _tail_lines(path, max_bytes)
        except OSError as exc:
            logger.info("decision log %s not readable: %s", path, exc)
            continue
        for line in lines:
            record = parse_line(line)
            if record is not None:
                yield record


def _top(counts: Counter[str], rows: int) -> list[dict[str, Any]]:
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:rows]
    return [{"contact": contact, "count": count} for contact, count in top]


def most_notified(paths: Sequence[Path], now: float, *, rows: int = 8) -> dict[str, Any]:
    """Contacts sent most notifications over 24 h, read from the logs; unavailable without logs."""
    if not paths:
        return {"available": False, "rows": []}
    counts: Counter[str] = Counter()
    for record in read_decisions(paths):
        if record.get("decision") == "notify" and (record["_ts"] or 0) >= now - DAY and record.get("contact"):
            counts[str(record["contact"])] += 1
    return {"available": True, "rows": _top(counts, rows)}


def recent_from_files(paths: Sequence[Path], contact: str, limit: int) -> list[dict[str, Any]]:
    """The contact's latest decisions in these logs, newest first."""
    mine = [record for record in read_decisions(paths) if record.get("contact") == contact]
    mine.sort(key=lambda record: record["_ts"] or 0, reverse=True)
    return mine[:limit]


def object_decisions_from_files(
    paths: Sequence[Path], host: str, service: str, since: float
) -> list[dict[str, Any]]:
    """The decisions about one object since ``since`` in these logs, in file order."""
    return [
        record
        for record in read_decisions(paths)
        if record.get("host") == host
        and (record.get("service") or "") == service
        and (record["_ts"] or 0) >= since
    ]


# -- reads from Redis (what the nodes' workers collected) ------------------------------


def hours_of_last_day(now: float) -> list[int]:
    """The epoch hours that make up the last 24 hours (the oldest one may reach an hour further)."""
    current = int(now // HOUR)
    return list(range(current - BUCKETS + 1, current + 1))


def collected_nodes(client: redis.Redis[bytes], nodes: Sequence[int]) -> list[int]:
    """The nodes whose decision log a worker has read at least once."""
    if not nodes:
        return []
    pipe = client.pipeline(transaction=False)
    for node in nodes:
        pipe.exists(state_key(node))
    return [node for node, found in zip(nodes, pipe.execute(), strict=True) if found]


def most_notified_collected(
    client: redis.Redis[bytes], nodes: Sequence[int], now: float, *, rows: int = 8
) -> dict[str, Any]:
    """Contacts sent most notifications over 24 h, summed over the nodes; unavailable if none was read."""
    seen = collected_nodes(client, nodes)
    if not seen:
        return {"available": False, "rows": []}
    pipe = client.pipeline(transaction=False)
    for node in seen:
        for hour in hours_of_last_day(now):
            pipe.hgetall(bucket_key(node, hour))
    counts: Counter[str] = Counter()
    for bucket in pipe.execute():
        for contact, count in bucket.items():
            counts[contact.decode("utf-8", "replace")] += int(count)
    return {"available": True, "rows": _top(counts, rows)}


def recent_collected(
    client: redis.Redis[bytes], nodes: Sequence[int], contact: str, limit: int
) -> list[dict[str, Any]] | None:
    """The contact's latest decisions over the nodes, newest first; None if no node's log was read."""
    if not nodes:
        return None
    pipe = client.pipeline(transaction=False)
    for node in nodes:
        pipe.exists(state_key(node))
        pipe.lrange(recent_key(node, contact), 0, limit - 1)
    answers = pipe.execute()
    if not any(answers[0::2]):
        return None
    found = []
    for raw in (item for items in answers[1::2] for item in items):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entry["_ts"] = decision_time(entry.get("time"))
            found.append(entry)
    found.sort(key=lambda entry: entry["_ts"] or 0, reverse=True)
    return found[:limit]


def object_decisions_collected(
    client: redis.Redis[bytes], node: int | str, host: str, service: str, since: float
) -> list[dict[str, Any]] | None:
    """The decisions about one object on a node since ``since``, oldest first; None if its log was never read."""
    pipe = client.pipeline(transaction=False)
    pipe.exists(state_key(node))
    pipe.zrangebyscore(object_key(node, host, service), since, "+inf")
    seen, raw_entries = pipe.execute()
    if not seen:
        return None
    found = []
    for raw in raw_entries:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entry["_ts"] = decision_time(entry.get("time"))
            found.append(entry)
    return found


# -- what became of a notification line ---------------------------------------------------


def _same_notification(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record.get(field) for field in ("time", "contact", "channel", "type", "id"))


def _upper(value: Any) -> str:
    return str(value or "").strip().upper()


def match_notifications(
    lines: Sequence[Mapping[str, Any]],
    decisions: Iterable[dict[str, Any]],
    *,
    seconds: float = MATCH_SECONDS,
) -> list[dict[str, Any] | None]:
    """The filter's decision for each notification line of a core's log (None: none recorded).

    A line is a mapping with ``ts`` (its time), ``contact``, ``type`` (the notification
    type, None if the line does not say) and ``channel`` (None if unknown). It matches a
    decision about the same object (the caller's choice of decisions) for the same contact,
    type and channel, at most ``seconds`` apart; each decision explains one line, the
    nearest pairs first. The filter writes a second line ("error") when it cannot run the
    real command after deciding to send: that one stands for the notification.
    """
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in decisions:
        if record.get("_ts") is None:
            continue
        key = _same_notification(record)
        if key not in latest or record.get("decision") == "error":
            latest[key] = record
    by_contact: dict[str, list[dict[str, Any]]] = {}
    for record in latest.values():
        by_contact.setdefault(str(record.get("contact") or ""), []).append(record)
    pairs: list[tuple[float, int, int]] = []
    unique = list(latest.values())
    index = {id(record): position for position, record in enumerate(unique)}
    for number, line in enumerate(lines):
        for record in by_contact.get(str(line.get("contact") or ""), ()):
            distance = abs(record["_ts"] - float(line["ts"]))
            if distance > seconds:
                continue
            if line.get("type") is not None and _upper(record.get("type")) != line["type"]:
                continue
            if line.get("channel") is not None and str(record.get("channel") or "") != line["channel"]:
                continue
            pairs.append((distance, number, index[id(record)]))
    found: list[dict[str, Any] | None] = [None] * len(lines)
    used: set[int] = set()
    for _, number, position in sorted(pairs):
        if found[number] is None and position not in used:
            found[number] = unique[position]
            used.add(position)
    return found


# -- the incremental reader (on the node) ----------------------------------------------


class Conflict(Exception):
    """Another run moved the node's offset meanwhile: this run stops, that one carries on."""


def _fingerprint(path: Path | str, length: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(length)).hexdigest()


def _same_file(path: Path | str, state: dict[str, str], stat: os.stat_result | None = None) -> bool:
    """Whether ``path`` is the file the state describes: same inode (or a copy) and the same first bytes."""
    try:
        stat = stat or os.stat(path)
        if stat.st_size < int(state["offset"]):
            return False
        return _fingerprint(path, int(state["head_len"])) == state["head"]
    except (OSError, KeyError, ValueError):
        return False


def _find_rotated(path: Path, state: dict[str, str]) -> Path | None:
    """The old file under its rotated name (``decisions.log.1``, ``…-20261201``): by inode, else by its first bytes."""
    try:
        siblings = [p for p in path.parent.iterdir() if p.name.startswith(path.name) and p.name != path.name]
    except OSError:
        return None
    siblings = [p for p in siblings if not p.name.lower().endswith(_COMPRESSED)]
    by_inode = []
    others = []
    for sibling in siblings:
        try:
            stat = sibling.stat()
        except OSError:
            continue
        if not os.path.isfile(sibling):
            continue
        if str(stat.st_ino) == state.get("inode") and str(stat.st_dev) == state.get("dev"):
            by_inode.append((sibling, stat))
        else:
            others.append((sibling, stat))
    # Renamed: the same inode. Copied then truncated: a new inode holding the same start.
    others.sort(key=lambda item: -item[1].st_mtime)
    for sibling, stat in by_inode + others[:20]:
        if int(state.get("head_len") or 0) and _same_file(sibling, state, stat):
            return sibling
    return None


def _identity(handle: BinaryIO) -> dict[str, str]:
    """Device, inode and the fingerprint of the first bytes of an open log."""
    stat = os.fstat(handle.fileno())
    head_len = min(stat.st_size, HEAD_BYTES)
    handle.seek(0)
    return {
        "dev": str(stat.st_dev),
        "inode": str(stat.st_ino),
        "head_len": str(head_len),
        "head": hashlib.sha256(handle.read(head_len)).hexdigest(),
    }


def _load_state(client: redis.Redis[bytes], node: int | str) -> dict[str, str] | None:
    raw = client.hgetall(state_key(node))
    if not raw:
        return None
    return {key.decode(): value.decode() for key, value in raw.items()}


class Tally:
    """What one chunk of a log adds: sent counts, recent decisions per contact, decisions per object."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, str]] = Counter()
        self.recents: dict[str, list[str]] = {}
        #: (host, service) -> {JSON entry: decision time}
        self.objects: dict[tuple[str, str], dict[str, float]] = {}
        self.decisions = 0


class Collector:
    """Reads one node's decision log from where the last run stopped into Redis."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        node: int | str,
        path: Path | str,
        *,
        now: float,
        sink: Callable[[list[bytes]], None] | None = None,
    ) -> None:
        self.client = client
        #: Called with each chunk's lines before its offset moves (the database history): if it
        #: raises, the offset stays and the next run hands it the same lines again.
        self.sink = sink
        self.node = node
        self.path = Path(path)
        self.now = now
        self.state = _load_state(client, node)
        self.budget = RUN_BYTES
        self.lines = 0
        self.counted = 0

    def run(self) -> dict[str, Any]:
        """Read what is new (finishing a rotated-away file first); a summary of what was done."""
        result: dict[str, Any] = {"node": self.node, "path": str(self.path)}
        try:
            self._run()
        except Conflict:
            result["skipped"] = "another run moved the offset"
        except OSError as exc:  # unreadable: said in the result and the log; the next run tries again
            logger.warning("decision log %s not readable: %s", self.path, exc)
            result["error"] = str(exc)
        result.update(
            lines=self.lines, notified=self.counted, offset=int((self.state or {}).get("offset", 0))
        )
        return result

    def _run(self) -> None:
        try:
            current: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            current = None
        state = self.state
        if state is None:
            if current is not None:
                self._read(self.path, None)
            return
        if (
            current is not None
            and str(current.st_ino) == state.get("inode")
            and str(current.st_dev) == state.get("dev")
            and _same_file(self.path, state, current)
        ):
            self._read(self.path, int(state["offset"]))
            return
        # Not the file we were reading: rotated, truncated or replaced. Finish the old one
        # under its new name, then the new file from its first byte.
        old = _find_rotated(self.path, state)
        if old is not None and not self._read(old, int(state["offset"])):
            return  # out of budget in the old file: the next run goes on there
        if current is not None:
            self._read(self.path, 0)

    def _read(self, path: Path, offset: int | None) -> bool:
        """Read ``path`` from ``offset`` (None: its last FIRST_READ_BYTES) to its end.

        False when the run's budget ran out first. Only whole lines are read: a line being
        written stays for the next run.
        """
        with open(path, "rb") as handle:
            identity = _identity(handle)
            if offset is None:
                size = os.fstat(handle.fileno()).st_size
                offset = max(0, size - FIRST_READ_BYTES)
                if offset:
                    handle.seek(offset - 1)
                    offset = offset - 1 + len(handle.readline())  # from the next line's start
            while True:
                if self.budget <= 0:
                    return False
                handle.seek(offset)
                data = handle.read(CHUNK_BYTES)
                end = data.rfind(b"\n") + 1
                if end:
                    lines = data[:end].split(b"\n")
                elif len(data) < CHUNK_BYTES:
                    break
                else:  # a line longer than a chunk is no decision: skipped whole
                    end = len(data) + len(handle.readline())
                    lines = []
                self.budget -= end
                offset += end
                if self.sink is not None and lines:
                    self.sink([line for line in lines if line.strip()])
                self._commit(identity | {"offset": str(offset)}, self._tally(lines))
        if self.state != identity | {"offset": str(offset)}:
            self._commit(identity | {"offset": str(offset)}, Tally())  # e.g. a new, empty file
        return True

    def _tally(self, lines: Iterable[bytes]) -> Tally:
        """Per (hour, contact) notifications sent in the last day, recent entries per contact and object."""
        tally = Tally()
        counts, recents = tally.counts, tally.recents
        for line in lines:
            if not line.strip():
                continue
            record = parse_line(line)
            if record is None:
                continue
            tally.decisions += 1
            contact = record.get("contact")
            if not isinstance(contact, str) or not contact or len(contact) > CONTACT_CHARS:
                continue
            when = record["_ts"]
            recents.setdefault(contact, []).append(json.dumps(recent_entry(record), separators=(",", ":")))
            if record.get("decision") == "notify" and when is not None and when >= self.now - DAY:
                # A node clock ahead of ours: counted now rather than in a bucket that outlives the day.
                counts[(int(min(when, self.now) // HOUR), contact)] += 1
            host, service = record.get("host"), record.get("service") or ""
            if (
                when is not None
                and when >= self.now - OBJECT_SECONDS
                and isinstance(host, str)
                and host
                and isinstance(service, str)
                and len(host) + len(service) <= OBJECT_KEY_CHARS
            ):
                entry = json.dumps(object_entry(record), separators=(",", ":"))
                tally.objects.setdefault((host, service), {})[entry] = when
        return tally

    def _commit(self, new_state: dict[str, str], tally: Tally) -> None:
        """Counts, recents and the new offset in one transaction, if the offset is still ours."""
        key = state_key(self.node)
        with self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                if _load_state(pipe, self.node) != self.state:
                    raise Conflict
                pipe.multi()
                for (hour, contact), count in tally.counts.items():
                    bucket = bucket_key(self.node, hour)
                    pipe.hincrby(bucket, contact, count)
                    pipe.expireat(bucket, hour * HOUR + BUCKET_SECONDS)
                for contact, entries in tally.recents.items():
                    recent = recent_key(self.node, contact)
                    pipe.lpush(recent, *entries[-RECENT_KEPT:])  # file order: the newest ends up first
                    pipe.ltrim(recent, 0, RECENT_KEPT - 1)
                    pipe.expire(recent, KEPT_SECONDS)
                for (host, service), scored in tally.objects.items():
                    key_of_object = object_key(self.node, host, service)
                    pipe.zadd(key_of_object, scored)  # type: ignore[arg-type]
                    pipe.zremrangebyscore(key_of_object, "-inf", self.now - OBJECT_SECONDS)
                    pipe.zremrangebyrank(key_of_object, 0, -OBJECT_KEPT - 1)  # the oldest beyond the cap
                    pipe.expire(key_of_object, OBJECT_SECONDS)
                pipe.delete(key)
                pipe.hset(key, mapping=new_state)  # type: ignore[arg-type]
                pipe.expire(key, KEPT_SECONDS)
                pipe.execute()
            except redis.exceptions.WatchError:
                raise Conflict from None
        self.state = new_state
        self.counted += sum(tally.counts.values())
        self.lines += tally.decisions


def collect(
    client: redis.Redis[bytes],
    node: int | str,
    path: Path | str,
    *,
    now: float,
    sink: Callable[[list[bytes]], None] | None = None,
) -> dict[str, Any]:
    """Read what is new in one node's decision log into Redis (see the module docstring).

    ``sink`` also gets every chunk's lines before the offset moves past them: at least once,
    so it must be idempotent (``preferences.history.store_lines`` is).
    """
    return Collector(client, node, path, now=now, sink=sink).run()
