"""notify-filter: a contact's preferences decide whether a Naemon notification goes out.

Naemon runs a contact's notification command once per contact and
notification; the portal wraps that command:

  notify-filter --contact C --channel email --type T --host H --hostgroups G1,G2
                [--service S --servicegroups SG1,SG2] --state S --id N
                [--problem-id P --last-problem-id P0] [--last-state S0]
                [--snapshot-dir DIR] [--state-dir DIR] [--log FILE]
                [--max-age SECONDS] [--state-days DAYS] [--lock-timeout SECONDS]
                [-- REAL-COMMAND [ARGS...]]
  notify-filter --gate-only --host H --hostgroups G1,G2 [--service S]
                [--contact C --type T --state S --id N] [--snapshot-dir DIR] [--log FILE]

Values are Naemon's macros, each quoted: an empty --service means a host
notification; group lists are comma-separated. Options also take --opt=value.

Gate form (no command, what the portal renders): exit status 86 = suppress,
anything else = send. Only the filter's own verdict exits 86 (no shell, Python or
kernel failure does: 1, 2, 120, 126, 127, 128+n), so a filter that cannot start or
crashes still lets the notification out; the command line is

  notify-filter ... || [ $? -ne 86 ] || exit 0 && ( REAL-COMMAND-LINE )

($$? in the object file: Naemon's escaped $). A suppressed notification exits 0,
so Naemon logs no failed notification command for it.

Exec form (with "--"), for hand-written command definitions: notify -> exec the
real command (its exit status is the filter's); suppress -> exit 0 without running
it. A filter that cannot start sends nothing in this form.

A RECOVERY or ACKNOWLEDGEMENT reaches the contact only if the contact was sent
the PROBLEM it belongs to on the same channel: every PROBLEM this node decides is
recorded, sent or held back, per contact, channel, host and service under
--state-dir (problem ids, when given, tell one problem from the next). No record
of the problem at all means this node never saw it: in a cluster the object's
notifier moved here after the PROBLEM (a failover). Such a follow-up is decided as
its PROBLEM would be here now: a PROBLEM in --last-state (Naemon's
$LASTSERVICESTATE$/$LASTHOSTSTATE$: the state before the recovery; an
ACKNOWLEDGEMENT's own --state) through the contact's rules; without it, it is
held back. Records written before held-back problems were recorded (an "NPS1"
file, until this filter first rewrites it) keep their meaning: no record there
is "not sent". Records written before they carried the channel (keys
"host\0service") count as sent for every channel; a RECOVERY does not consume
them, the object's next recorded PROBLEM or --state-days does.

The cluster gate comes first. In a cluster every node that holds a copy of an object
runs Naemon's notification logic for it (so that notification numbers and Naemon's own
"was the problem notified" survive a failover), and only the object's notifier lets the
notification out. The snapshot's cluster part (preferences/snapshot.py) names this node,
the poller that owns each host group and the notifier of each share; the object's share
is the owner of its --hostgroups (the first by name, as registry.cluster.Topology.owner),
"" when no poller owns one. If another node notifies it, the notification is held back
("not the notifier here: <node> notifies <host>[/<service>]") before any rule; a PROBLEM
is recorded as "seen elsewhere" (so that if this node becomes the notifier, its RECOVERY
is decided as the PROBLEM would have been, see below) and a RECOVERY ends the record. No
cluster part, an unreadable one, or one that does not list this node: this node notifies
(fail open: a doubled notification beats a lost one) and the reason says so. A stale
snapshot keeps its cluster part: the portal being out of touch moves no share, and every
holder sending would double everything.

--gate-only (notification commands without a channel, which no rule matches): the
cluster gate only, no rules, no records; Naemon's own behaviour otherwise.

Fail open: a missing, corrupt or stale snapshot, an unknown contact, bad
arguments, an unreadable state record, a state lock held longer than
--lock-timeout seconds (default 5, well under Naemon's 30 s notification_timeout)
or any internal error -> the notification is sent and the reason logged. Stale
means the snapshot's heartbeat (its manifest's mtime, renewed by the portal's
periodic refresh even when nothing changed) is older than --max-age seconds
(default 3600; 0 = never stale): the portal has lost touch with this node, so
its rules may be out of date. Every decision is one JSON line appended to
--log, the last-resort error included; a line stays small whatever the
arguments (a few listed errors, each value cut to 1,000 characters).
"""

from __future__ import annotations

# posix, not os: started without site (preferences/launcher.py) the filter would import os
# for itself, ~1 ms of its start; only the exec form imports it (to search PATH).
import posix
import sys
import time

from preferences import engine, snapshot

# Not typing.TYPE_CHECKING: importing typing costs the filter ~25 ms; mypy
# treats any name TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypeGuard

    LogValue = str | int | float | bool | None
    # problem id, when recorded, sent (False: held back; None: seen while another node notified)
    Entry = tuple[str | None, float, bool | None]
    Records = dict[str, Entry]

# The one default layout, for a command line that names no paths: rendered before the portal
# passed every path (so an upgraded filter keeps reading what the old line meant), or run by
# hand. The renderer never relies on it: NaemonNode.notify_paths() owns the layout and the
# rendered line names every path; a test pins that a node without notify_dir gets these.
DEFAULT_NOTIFY_DIR = "/var/lib/monitoring-portal/notify"
DEFAULT_SNAPSHOT_DIR = DEFAULT_NOTIFY_DIR + "/snapshot"
DEFAULT_STATE_DIR = DEFAULT_NOTIFY_DIR + "/state"
DEFAULT_LOG = DEFAULT_NOTIFY_DIR + "/decisions.log"
DEFAULT_MAX_AGE = 3600.0
DEFAULT_STATE_DAYS = 30.0
# Naemon kills a notification command after notification_timeout (30 s by default): the
# lock wait must end well before, or the notification is lost instead of sent.
DEFAULT_LOCK_TIMEOUT = 5.0
# The gate form's "do not send". Distinctive on purpose: every other status, including a
# shell's 126/127 and Python's 1 when the filter cannot start, means "send".
SUPPRESS_STATUS = 86
# One decision line stays small whatever Naemon (or a broken command definition) passes.
MAX_LOGGED_ERRORS = 5
MAX_LOG_VALUE = 1000

_OPTIONS = {
    "--contact": "contact",
    "--channel": "channel",
    "--type": "type",
    "--host": "host",
    "--hostgroups": "hostgroups",
    "--service": "service",
    "--servicegroups": "servicegroups",
    "--state": "state",
    "--id": "id",
    "--problem-id": "problem_id",
    "--last-problem-id": "last_problem_id",
    "--last-state": "last_state",
    "--share": "share",
    "--snapshot-dir": "snapshot_dir",
    "--state-dir": "state_dir",
    "--log": "log",
    "--max-age": "max_age",
    "--state-days": "state_days",
    "--lock-timeout": "lock_timeout",
}
_FLAGS = {"--gate-only": "gate_only"}
_REQUIRED = ("contact", "channel", "type", "host", "state")
_REQUIRED_GATE_ONLY = ("host",)
# NPS2 records held-back problems too, so a missing record means "never seen on this node";
# NPS1 (filters before clusters) recorded sent problems only, as (problem id, when).
_STATE_MAGIC = b"NPS2"
_SENT_ONLY_MAGIC = b"NPS1"
# The states a PROBLEM can have: what --last-state must be to decide an unrecorded follow-up.
_PROBLEM_STATES = frozenset(("WARNING", "CRITICAL", "UNKNOWN", "DOWN", "UNREACHABLE"))
# JSON string escapes; everything else (non-ASCII included) is written as UTF-8.
_JSON_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)}
_JSON_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


class Arguments:
    """The parsed command line; ``errors`` lists what was wrong with it."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.command: list[str] = []  # empty: gate form
        self.errors: list[str] = []
        self.help = False
        self.gate_only = False

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def parse_arguments(argv: Sequence[str]) -> Arguments:
    """Parse the command line by hand: argparse would cost more than the rest of the filter."""
    args = Arguments()
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            args.command = list(argv[index:])
            break
        if arg in ("-h", "--help"):
            args.help = True
            continue
        if arg in _FLAGS:
            args.gate_only = True
            continue
        name, equals, value = arg.partition("=")
        key = _OPTIONS.get(name)
        if key is None:
            args.errors.append(f"unknown argument {_clip(arg, 64)!r}")
            continue
        if not equals:
            if index >= len(argv) or argv[index] == "--":
                args.errors.append(f"{name} needs a value")
                continue
            value = argv[index]
            index += 1
        args.values[key] = value
    required = _REQUIRED_GATE_ONLY if args.gate_only else _REQUIRED
    args.errors.extend(f"--{key} is required" for key in required if key not in args.values)
    for key in ("max_age", "state_days", "lock_timeout"):
        if key in args.values:
            try:
                number = float(args.values[key])
            except ValueError:
                number = float("nan")
            if number != number or number in (float("inf"), float("-inf")):  # nan: a wait without end
                args.errors.append(f"--{key.replace('_', '-')} must be a number")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the filter; returns the exit status (or does not return: exec)."""
    raw = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(raw)
    except Exception as exc:  # last resort: a bug here must not lose a notification
        error = f"{type(exc).__name__}: {exc}"
        _stderr(f"notify-filter: internal error, sending: {error}")
        _log_internal_error(raw, error)  # Naemon discards stderr: the log is where people look
        return _send(raw[raw.index("--") + 1 :] if "--" in raw else [], None)


def _log_internal_error(raw: list[str], error: str) -> None:
    """Best effort: one decision line for an error that escaped ``_run``; never raises."""
    try:
        options = raw[: raw.index("--")] if "--" in raw else raw
        values: dict[str, str] = {}
        for position, arg in enumerate(options):  # by hand: parse_arguments may be what failed
            name, equals, value = arg.partition("=")
            key = _OPTIONS.get(name)
            if key is not None and key not in values:
                if equals:
                    values[key] = value
                elif position + 1 < len(options):
                    values[key] = options[position + 1]
        record: dict[str, LogValue] = {"time": _utc_timestamp()}
        for key in ("contact", "channel", "type", "host", "service", "state", "id"):
            record[key] = values.get(key, "")
        record.update(decision="notify", rule=None, reason=f"fail open: internal error: {error}")
        record["duration_ms"] = None
        write_log(values.get("log", DEFAULT_LOG), record)
    except Exception:  # noqa: S110 - reported on stderr already; the notification goes out
        pass


def _run(raw: list[str]) -> int:
    started = time.perf_counter()
    args = parse_arguments(raw)
    if args.help:
        sys.stdout.write(__doc__ or "")
        return 0
    try:
        decision = decide(args)
    except Exception as exc:  # fail open is the contract
        decision = engine.Decision(True, None, f"fail open: internal error: {type(exc).__name__}: {exc}")
    record: dict[str, LogValue] = {
        "time": _utc_timestamp(),
        "contact": args.get("contact"),
        "channel": args.get("channel"),
        "type": args.get("type"),
        "host": args.get("host"),
        "service": args.get("service"),
        "state": args.get("state"),
        "id": args.get("id"),
        "decision": "notify" if decision.notify else "suppress",
        "rule": decision.rule_id,
        "reason": decision.reason,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    log_path = args.get("log", DEFAULT_LOG)
    write_log(log_path, record)
    if not args.command:
        return 0 if decision.notify else SUPPRESS_STATUS
    if not decision.notify:
        return 0
    return _send(args.command, (log_path, record))


def decide(args: Arguments) -> engine.Decision:
    """The decision for a parsed command line, fail-open cases included."""
    if args.errors:
        errors = args.errors[:MAX_LOGGED_ERRORS]
        if len(args.errors) > MAX_LOGGED_ERRORS:
            errors.append(f"and {len(args.errors) - MAX_LOGGED_ERRORS} more")
        return engine.Decision(True, None, "fail open: bad arguments: " + "; ".join(errors))
    snapshot_dir = args.get("snapshot_dir", DEFAULT_SNAPSHOT_DIR)
    host, service = args.get("host"), args.get("service")
    hostgroups = _names(args.get("hostgroups"))
    here, gate_reason, open_gate = cluster_gate(snapshot_dir, host, service, hostgroups, args.get("share"))
    if args.gate_only:
        return engine.Decision(here, None, gate_reason)
    kind = args.get("type").strip().upper()
    if not here:
        if kind in ("PROBLEM", "RECOVERY"):
            gate_reason += _note_elsewhere(args, kind, host, service)
        return engine.Decision(False, None, gate_reason)
    notification = engine.Notification(
        contact=args.get("contact"),
        channel=args.get("channel"),
        type=kind,
        host=host,
        state=args.get("state").strip().upper(),
        hostgroups=hostgroups,
        service=service or None,
        servicegroups=_names(args.get("servicegroups")),
        notification_id=args.get("id"),
    )
    max_age = float(args.get("max_age", str(DEFAULT_MAX_AGE)))
    gated = False  # may a RECOVERY/ACK be held back because its PROBLEM was not sent?
    contact: engine.CompiledContact | None = None
    try:
        # The heartbeat first: a generation swapped in after it is only newer.
        age = time.time() - snapshot.generated_at(snapshot_dir) if max_age > 0 else 0.0
        contact = snapshot.read_contact(snapshot_dir, notification.contact)
    except snapshot.SnapshotError as exc:
        decision = engine.Decision(True, None, f"fail open: {exc}")
    else:
        if age > max_age > 0:
            # The portal has not refreshed this node for a while: its rules may be out of date.
            contact = None
            decision = engine.Decision(True, None, f"fail open: snapshot stale ({age:.0f} s old)")
        elif contact is None:
            decision = engine.Decision(True, None, "unknown contact")
        else:
            decision = engine.evaluate(contact, notification)
            # A contact whose rules never suppress gets Naemon's behaviour exactly.
            gated = engine.can_suppress(contact)
    if notification.type in ("PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT"):
        decision = _apply_sent_problems(args, notification, decision, contact if gated else None)
    if open_gate:  # the history must say why this node sent, maybe beside another
        decision.reason += f"; {gate_reason}"
    return decision


def cluster_gate(
    snapshot_dir: str, host: str, service: str, hostgroups: list[str], share: str = ""
) -> tuple[bool, str, bool]:
    """Whether this node notifies the object, why, and whether that is the gate failing open.

    ``share``: the object's own (``--share``, "*" for the masters'), given for a service defined
    on the masters' host groups, whose host may be a poller's; empty: from ``hostgroups``.
    """
    what = f"{host}/{service}" if service else host
    opened = "cluster gate fails open, this node notifies"
    try:
        part = snapshot.read_cluster(snapshot_dir)
    except snapshot.SnapshotError as exc:
        return True, f"{opened}: {exc}", True
    if part is None:
        return True, f"{opened}: no cluster part in the snapshot", True
    node = part["node"]
    if node not in part["nodes"]:
        return True, f"{opened}: {node} is not in the snapshot's cluster part", True
    # Topology.owner: the first poller by name among the owners of the object's host groups.
    if share.startswith("$"):
        share = ""  # the service has no such custom variable: the core left the macro (or a "$") as is
    if share:
        share = "" if share == "*" else share
    else:
        groups = part["groups"]
        owners = [groups[g] for g in hostgroups if g in groups]
        share = min(owners) if owners else ""
    notifier = part["notifiers"].get(share)
    if not notifier:
        return True, f"{opened}: nobody notifies {what}", True
    if notifier != node:
        return False, f"not the notifier here: {notifier} notifies {what}", False
    return True, f"this node ({node}) notifies {what}", False


def _note_elsewhere(args: Arguments, kind: str, host: str, service: str) -> str:
    """Keep this node's records true while another node notifies; what to add to the reason.

    A PROBLEM is recorded as seen elsewhere (not decided here): if this node becomes the
    notifier, the RECOVERY is decided as the PROBLEM would have been. A RECOVERY ends the record.
    """
    store = SentProblems(
        args.get("state_dir", DEFAULT_STATE_DIR),
        args.get("contact"),
        float(args.get("state_days", str(DEFAULT_STATE_DAYS))),
        float(args.get("lock_timeout", str(DEFAULT_LOCK_TIMEOUT))),
    )
    key, legacy = record_keys(args.get("channel"), host, service or None)
    problem_id = _problem_id(args.get("problem_id"))
    try:
        if kind == "PROBLEM":
            store.record(key, problem_id, legacy, sent=None)
        else:
            store.pop(key, problem_id or _problem_id(args.get("last_problem_id")), legacy)
    except Exception as exc:  # the verdict stands: this node does not notify
        return f"; problem not recorded: {exc}"
    return ""


def _apply_sent_problems(
    args: Arguments,
    notification: engine.Notification,
    decision: engine.Decision,
    contact: engine.CompiledContact | None,
) -> engine.Decision:
    """Record PROBLEMs; a RECOVERY/ACK follows its PROBLEM (see engine.evaluate_followup).

    ``contact`` is None when this contact's rules can never suppress (or are unknown):
    then Naemon's own behaviour stands and nothing is held back.
    """
    store = SentProblems(
        args.get("state_dir", DEFAULT_STATE_DIR),
        notification.contact,
        float(args.get("state_days", str(DEFAULT_STATE_DAYS))),
        float(args.get("lock_timeout", str(DEFAULT_LOCK_TIMEOUT))),
    )
    # Per channel: the email RECOVERY must not consume the record that the sms one needs.
    key, legacy = record_keys(notification.channel, notification.host, notification.service)
    problem_id = _problem_id(args.get("problem_id"))
    kind = notification.type
    try:
        if kind == "PROBLEM":
            # Held back ones too: then "no record" can only mean "not seen on this node".
            store.record(key, problem_id, legacy, sent=decision.notify)
            return decision
        if kind == "RECOVERY":
            # Naemon resets $SERVICEPROBLEMID$ to 0 on recovery; the ended
            # problem's id is then in $LASTSERVICEPROBLEMID$.
            problem_id = problem_id or _problem_id(args.get("last_problem_id"))
            was_sent = store.pop(key, problem_id, legacy)  # the problem is over either way
        else:
            was_sent = store.was_sent(key, problem_id, legacy)
    except Exception as exc:  # the rules' decision stands; a RECOVERY/ACK fails open
        if kind == "PROBLEM":
            decision.reason += f"; problem not recorded: {exc}"
        elif decision.notify:
            problem = "busy" if isinstance(exc, LockTimeout) else "unreadable"
            decision.reason += f"; fail open: sent-problem record {problem}: {exc}"
        return decision
    if contact is None:
        return decision
    if was_sent is None:
        # The object's notifier moved here after its PROBLEM (a failover): the node that
        # decided the PROBLEM is elsewhere, so decide that PROBLEM here, with the same rules.
        state = notification.state if kind == "ACKNOWLEDGEMENT" else args.get("last_state").strip().upper()
        if state in _PROBLEM_STATES:
            return engine.evaluate_unrecorded_followup(contact, notification, state)
        was_sent = False  # no problem state to decide (a command line from before --last-state)
    return engine.evaluate_followup(contact, notification, was_sent)


def record_keys(channel: str, host: str, service: str | None) -> tuple[str, str]:
    """The sent-problem key of (channel, host, service) and the channel-less key of older records.

    NUL separates the parts: no Naemon name (nor any argument) can contain one. A
    channel key has two NULs, an older record's key one, so the two never collide.
    """
    obj = f"{host}\0{service or ''}"
    return f"{channel}\0{obj}", obj


class LockTimeout(Exception):
    """Another process held a contact's state lock for longer than the filter may wait."""


class SentProblems:
    """The problems one contact was sent or not, kept on the node: ``key -> (problem id, when, sent)``.

    One small file per contact (marshal, as the snapshot), replaced atomically
    by rename; writers serialise on a separate lock file with ``flock`` because
    Naemon runs notifications in parallel, waiting at most ``lock_timeout``
    seconds (then ``LockTimeout``). Readers need no lock. Entries older
    than ``max_days`` are dropped on every write.

    Every PROBLEM is recorded, sent or held back: a follow-up whose problem has no
    record here was never seen here (``pop`` and ``was_sent`` answer None). An
    older file that recorded sent problems only (``_SENT_ONLY_MAGIC``) answers
    False instead, as it did; the first write turns it into the new form.

    Keys are ``record_keys``' channel keys. ``legacy`` is the same object's key
    from before records carried the channel: such a record stands for every
    channel, is never consumed by a RECOVERY (another channel may still need
    it) and goes when the object's next PROBLEM is recorded, or with age.
    """

    def __init__(
        self, directory: str, contact: str, max_days: float, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.directory = directory
        base = snapshot.join(directory, snapshot.contact_filename(contact))
        self.path = base + ".sent"
        self.lock_path = base + ".lock"
        self.max_age = max_days * 86400
        self.lock_timeout = max(lock_timeout, 0.0)

    def read(self) -> Records:
        """All records; ``{}`` if none. Raises ``OSError``/``ValueError`` if unreadable."""
        return self.load()[0]

    def load(self) -> tuple[Records, bool]:
        """All records, and whether held-back problems are among them (not an older file)."""
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            if not _is_dir(self.directory):
                raise  # not set up: unknown rather than "nothing was sent"
            return {}, True
        complete = not data.startswith(_SENT_ONLY_MAGIC)
        records = snapshot.unpack(data, _STATE_MAGIC if complete else _SENT_ONLY_MAGIC)
        if not isinstance(records, dict):
            raise ValueError(f"{self.path}: not a record of sent problems")
        if not complete:  # (problem id, when): sent, in the older form
            records = {
                key: (*entry, True) if isinstance(entry, tuple) and len(entry) == 2 else entry
                for key, entry in records.items()
            }
        return records, complete

    def record(
        self, key: str, problem_id: str | None, legacy: str | None = None, *, sent: bool | None = True
    ) -> None:
        """Remember that this contact was sent (``sent``) or not the problem ``key``.

        ``sent`` None: another node notified it (the cluster gate); a record of the same problem
        sent from here stays (its end follows it), any other is replaced.
        """
        if not sent:
            try:
                if self._keeps_sent(self.read(), key, legacy, problem_id):
                    return  # no lock: a problem already sent in a worse state, held back now
            except ValueError:
                pass  # damaged: rewritten below
        if not _is_dir(self.directory):
            import os  # rare: a node's first record

            os.makedirs(self.directory, 0o750, exist_ok=True)
        lock = self._lock()
        try:
            try:
                records = self.read()
            except ValueError:
                records = {}  # damaged: start again rather than never record
            if not sent and self._keeps_sent(records, key, legacy, problem_id):
                return
            records[key] = (problem_id, time.time(), sent)
            if legacy is not None and (sent or self._is_other_problem(records.get(legacy), problem_id)):
                records.pop(legacy, None)  # superseded by per-channel records from now on
            self._write(records)
        finally:
            posix.close(lock)

    def pop(self, key: str, problem_id: str | None, legacy: str | None = None) -> bool | None:
        """Forget ``key``; whether this contact was sent that problem (None: no record of it here)."""
        records, complete = self.load()
        if key in records:
            lock = self._lock()
            try:
                records, complete = self.load()
                entry = records.pop(key, None)
                if entry is not None:
                    self._write(records)
            finally:
                posix.close(lock)
            if entry is not None:
                return self._sent(entry, problem_id, complete)
        return self._sent(records.get(legacy) if legacy is not None else None, problem_id, complete)

    def was_sent(self, key: str, problem_id: str | None, legacy: str | None = None) -> bool | None:
        """Whether this contact was sent the problem ``key`` (None: no record of it here)."""
        records, complete = self.load()
        entry = records.get(key)
        if entry is None and legacy is not None:
            entry = records.get(legacy)
        return self._sent(entry, problem_id, complete)

    def _sent(self, entry: object, problem_id: str | None, complete: bool) -> bool | None:
        if entry is not None:
            if not _is_entry(entry):
                raise ValueError(f"{self.path}: a damaged record")
            if _same_problem(entry[0], problem_id):
                return entry[2]  # None: seen while another node notified it, not decided here
        # No record of this problem (perhaps one of an earlier problem): never seen here, unless
        # the file is from before held-back problems were recorded.
        return None if complete else False

    @classmethod
    def _keeps_sent(cls, records: Records, key: str, legacy: str | None, problem_id: str | None) -> bool:
        """Whether the problem being held back was sent already (a worse state): its end follows it."""
        entry = records.get(key)
        if entry is None and legacy is not None:
            entry = records.get(legacy)
        return _is_entry(entry) and entry[2] is True and _same_problem(entry[0], problem_id)

    @staticmethod
    def _is_other_problem(entry: Entry | None, problem_id: str | None) -> bool:
        return _is_entry(entry) and entry[0] is not None and problem_id is not None and entry[0] != problem_id

    def _lock(self) -> int:
        import fcntl  # only on the paths that write

        fd = posix.open(self.lock_path, posix.O_RDWR | posix.O_CREAT, 0o640)
        try:
            # Not a blocking flock: a stuck holder (a hung filter, someone's flock(1)) would
            # keep this notification waiting until Naemon kills it, and then it is lost.
            deadline = time.monotonic() + self.lock_timeout
            pause = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by closing fd
                    return fd
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LockTimeout(
                            f"{self.lock_path} held by another process for over {self.lock_timeout:g} s"
                        ) from None
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, 0.05)  # holders keep it for a millisecond or so
        except BaseException:
            posix.close(fd)
            raise

    def _write(self, records: Records) -> None:
        oldest = time.time() - self.max_age
        # Recent and well-formed: a damaged entry goes too.
        kept = {key: entry for key, entry in records.items() if _is_entry(entry) and entry[1] >= oldest}
        temporary = f"{self.path}.{posix.getpid()}.tmp"
        fd = posix.open(temporary, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC, 0o640)
        try:
            posix.write(fd, snapshot.pack(kept, _STATE_MAGIC))
        finally:
            posix.close(fd)
        posix.replace(temporary, self.path)


def _is_entry(entry: object) -> TypeGuard[Entry]:
    """Whether a stored value is a well-formed ``(problem id, when, sent or None)``."""
    return (
        isinstance(entry, tuple)
        and len(entry) == 3
        and (entry[0] is None or isinstance(entry[0], str))
        and isinstance(entry[1], float)
        and (entry[2] is None or isinstance(entry[2], bool))
    )


def _same_problem(recorded: str | None, current: str | None) -> bool:
    return recorded is None or current is None or recorded == current


def _problem_id(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "0") else value


def _names(value: str) -> list[str]:
    return [name for name in (part.strip() for part in value.split(",")) if name]


def _send(command: list[str], log: tuple[str, dict[str, LogValue]] | None) -> int:
    """Exec the real command (gate form: exit 0); on failure log and exit like a shell."""
    if not command:
        return 0
    try:
        import os  # for execvp's search of PATH; the process becomes the command next

        os.execvp(command[0], command)  # noqa: S606 - exec is the point: no shell, no fork
    except OSError as exc:
        if log is not None:
            path, record = log
            record["reason"] = f"{record['reason']}; cannot run {command[0]!r}: {exc}"
            record["decision"] = "error"
            write_log(path, record)
        _stderr(f"notify-filter: cannot run {command[0]!r}: {exc}")
        return 127 if isinstance(exc, FileNotFoundError) else 126


def _is_dir(path: str) -> bool:
    """``os.path.isdir`` without importing os."""
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000  # S_IFMT, S_IFDIR
    except (OSError, ValueError):
        return False


def _clip(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _utc_timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def json_line(record: dict[str, LogValue]) -> bytes:
    """One JSON object and a newline, without importing ``json`` (it pulls in ``re``)."""
    fields = ", ".join(f"{_json_value(key)}: {_json_value(value)}" for key, value in record.items())
    # Lone surrogates (undecodable bytes in argv) become \\udcXX escapes: still valid JSON.
    return ("{" + fields + "}\n").encode("utf-8", "backslashreplace")


def _json_value(value: LogValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        finite = value == value and value not in (float("inf"), float("-inf"))
        return repr(value) if finite else "null"
    return '"' + value.translate(_JSON_ESCAPES) + '"'


def write_log(path: str, record: dict[str, LogValue]) -> None:
    """Append one line with a single O_APPEND write: concurrent filters do not interleave.

    Each text value is cut to ``MAX_LOG_VALUE`` characters: the log must not grow by
    megabytes because one command line was huge.
    """
    bounded = {
        key: _clip(value, MAX_LOG_VALUE) if isinstance(value, str) else value for key, value in record.items()
    }
    line = json_line(bounded)
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT, 0o640)
        try:
            posix.write(fd, line)
        finally:
            posix.close(fd)
    except OSError as exc:
        _stderr(f"notify-filter: cannot write {path}: {exc}: {line.decode('utf-8').rstrip()}")


def _stderr(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: S110 - nowhere left to report to
        pass


if __name__ == "__main__":
    raise SystemExit(main())
