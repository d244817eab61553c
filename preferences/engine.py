"""The notification rule engine: one contact's ordered rules decide notify or suppress.

Plain Python, no Django: the notify-filter runs it on every Naemon node once per
contact and notification, and the portal's preview runs the same code.

Rules come in as plain dicts (see ``preferences.rulebook.validate_rule``), are compiled
once (``rulebook.compile_contact``) into plain data that ``marshal`` can store (dicts,
tuples, frozensets), and are evaluated here with ``evaluate``; ``preferences.explain`` says
why, for the history page.

Semantics:

* Rules are tried in order; the first enabled rule that matches decides. When
  none matches, the contact's default (``"notify"``, Naemon's behaviour, or
  ``"suppress"``) decides.
* An empty or absent criterion matches anything. A rule matches when every
  non-empty criterion does.
* ``hosts`` and ``hostgroups`` apply to host *and* service notifications (a
  service notification is about a host too). ``services`` and
  ``servicegroups`` apply to service notifications only: a rule with either of
  them never matches a host notification. ``services: ["*"]`` is therefore
  "any service notification".
* Names are exact, or globs when they contain ``*``, ``?`` or ``[``
  (``fnmatch.fnmatchcase``: case-sensitive, as Naemon's names are). A group
  criterion matches when any of the notification's groups matches.
* ``states`` holds host and/or service states; a notification matches when its
  state is listed (so ``["CRITICAL"]`` never matches a host notification).
* The time window is wall-clock time in the contact's time zone: ``days``
  (``mon`` … ``sun``, empty = every day), ``start`` and ``end`` (``HH:MM``;
  ``end`` may be ``24:00``). A window runs from ``start`` on a listed day for
  ``(end - start) mod 24h`` (0 → 24h), so ``fri 22:00-06:00`` covers Friday
  night into Saturday 06:00. On a DST change the wall clock decides: an hour
  that does not exist never matches, an hour that occurs twice matches twice.
* A hand-over (``handed_over``) suppresses the contact's notifications inside its window; the
  colleague's stand-in contact (``stand_in``: the same rules) suppresses outside its windows
  (``handed_over_decision``). Neither holds back a RECOVERY or ACKNOWLEDGEMENT: it follows
  the PROBLEM to whoever was sent it.
* A RECOVERY or ACKNOWLEDGEMENT follows the PROBLEM it ends (``evaluate_followup``):
  only rules naming its type, and suppress rules without ``types`` that match it
  (quiet hours), decide otherwise. One whose PROBLEM the deciding node never saw
  (its notifier moved) follows that PROBLEM as the rules decide it now
  (``evaluate_unrecorded_followup``).

Import cost matters here (the filter starts a Python process per
notification), so this module imports nothing at load time; ``fnmatch`` (and
with it ``re``) only when a glob's literal prefix/suffix cannot decide, and
``zoneinfo``/``datetime`` only when a time window is evaluated, and the notification types are plain classes rather than
``dataclasses`` (importing ``dataclasses`` costs more than starting Python).
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs the filter ~25 ms; mypy
# treats any name TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, tzinfo
    from typing import NotRequired, TypedDict

    # exact names; globs as (literal prefix, literal suffix, fnmatch pattern or
    # "" when prefix and suffix say it all)
    Names = tuple[frozenset[str], tuple[tuple[str, str, str], ...]]
    # (bit mask of weekdays, Monday = bit 0; start minute; duration in minutes)
    Window = tuple[int, int, int]
    RuleId = int | str | None

    class RuleData(TypedDict):
        """A validated, normalised rule as ``validate_rule`` returns it."""

        id: RuleId
        enabled: bool
        action: str
        comment: str
        hosts: list[str]
        hostgroups: list[str]
        services: list[str]
        servicegroups: list[str]
        states: list[str]
        types: list[str]
        channels: list[str]
        days: list[str]
        start: str
        end: str
        oncall_team: NotRequired[str]

    class CompiledRule(TypedDict):
        """An enabled rule ready for ``evaluate``; ``None`` = matches anything."""

        id: RuleId
        notify: bool
        hosts: Names | None
        hostgroups: Names | None
        services: Names | None
        servicegroups: Names | None
        service_only: bool
        states: frozenset[str] | None
        types: frozenset[str] | None
        channels: frozenset[str] | None
        window: Window | None
        oncall: NotRequired[str]  # a team name: matches only while this contact is on call for it

    class CompiledSilence(TypedDict):
        """A personal silence: suppresses what ``match`` matches from ``start`` until before ``until``."""

        id: RuleId
        comment: str
        start: float  # epoch seconds
        until: float  # epoch seconds, excluded
        match: CompiledRule

    class Rotation(TypedDict):
        """A team's on-call schedule (see ``on_call``)."""

        timezone: str
        anchor: int  # proleptic ordinal of the local date of the first shift
        handoff: int  # minute of the local day at which shifts change
        period: int  # days per shift: 1 (daily) or 7 (weekly)
        members: tuple[str, ...]  # user names, in order
        overrides: tuple[tuple[float, float, str], ...]  # (start, end excluded, user name or "" = nobody)
        fallback: str  # user name or ""

    class OnCall(TypedDict):
        """Who this contact is (its user's name) and the rotations its rules name, by team."""

        user: str
        rotations: dict[str, Rotation]

    class HandedOver(TypedDict):
        """A hand-over of this contact's notifications to ``to`` from ``start`` until before ``until``."""

        id: RuleId
        to: str  # the colleague's contact name
        comment: str
        start: float  # epoch seconds
        until: float  # epoch seconds, excluded

    class StandIn(TypedDict):
        """This contact covers for ``for`` (whose rules it carries) only inside ``windows``."""

        name: str  # the contact covered for
        windows: tuple[tuple[float, float], ...]  # (start, end excluded), epoch seconds

    class CompiledContact(TypedDict):
        """One contact's compiled preferences: what the snapshot stores per contact."""

        format: int
        default_notify: bool
        timezone: str
        rules: list[CompiledRule]
        silences: NotRequired[list[CompiledSilence]]
        oncall: NotRequired[OnCall]
        handed_over: NotRequired[list[HandedOver]]
        stand_in: NotRequired[StandIn]
        utc_offsets: NotRequired[UtcOffsets]

    #: (transition epochs, UTC offsets in seconds from each, end of coverage): see ``local_clock``.
    UtcOffsets = tuple[tuple[int, ...], tuple[int, ...], int]


#: Bumped whenever the compiled form changes; readers reject other formats.
COMPILED_FORMAT = 1

HOST_STATES = ("UP", "DOWN", "UNREACHABLE")
SERVICE_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
STATES = HOST_STATES + SERVICE_STATES
NOTIFICATION_TYPES = (
    "PROBLEM",
    "RECOVERY",
    "ACKNOWLEDGEMENT",
    "FLAPPINGSTART",
    "FLAPPINGSTOP",
    "FLAPPINGDISABLED",
    "DOWNTIMESTART",
    "DOWNTIMEEND",
    "DOWNTIMECANCELLED",
    "CUSTOM",
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ACTIONS = ("notify", "suppress")

_NAME_FIELDS = ("hosts", "hostgroups", "services", "servicegroups")
_LIST_FIELDS = (*_NAME_FIELDS, "states", "types", "channels", "days")
_RULE_FIELDS = frozenset(
    ("id", "enabled", "action", "comment", *_LIST_FIELDS, "start", "end", "oncall_team"),
)
#: What a silence may match on: a rule's object criteria, without time window or on-call.
SILENCE_FIELDS = ("hosts", "hostgroups", "services", "servicegroups", "states", "types", "channels")
#: Longest silence the portal accepts (a forgotten silence must end by itself).
MAX_SILENCE_SECONDS = 30 * 86400
_DAY = 24 * 60


class RuleError(ValueError):
    """Invalid rule data; ``field`` names the offending key (for form/API errors)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Notification:
    """One notification as Naemon hands it to one contact's notification command.

    ``service`` is ``None`` (or ``""``) for a host notification. ``time`` is an
    aware datetime; ``None`` means "now", read only if a time window is reached.
    """

    __slots__ = (
        "channel",
        "contact",
        "host",
        "hostgroups",
        "notification_id",
        "service",
        "servicegroups",
        "state",
        "time",
        "type",
    )

    def __init__(
        self,
        *,
        contact: str,
        channel: str,
        type: str,
        host: str,
        state: str,
        hostgroups: Sequence[str] = (),
        service: str | None = None,
        servicegroups: Sequence[str] = (),
        notification_id: str = "",
        time: datetime | None = None,
    ) -> None:
        if time is not None and time.utcoffset() is None:
            raise ValueError("Notification.time must be timezone-aware")
        self.contact = contact
        self.channel = channel
        self.type = type
        self.host = host
        self.state = state
        self.hostgroups = tuple(hostgroups)
        self.service = service or None
        self.servicegroups = tuple(servicegroups) if self.service is not None else ()
        self.notification_id = notification_id
        self.time = time

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Notification):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Notification({fields})"


class Decision:
    """The engine's answer: send or not, which rule decided (None = default), why."""

    __slots__ = ("notify", "reason", "rule_id")

    def __init__(self, notify: bool, rule_id: RuleId, reason: str) -> None:
        self.notify = notify
        self.rule_id = rule_id
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.notify, self.rule_id, self.reason) == (
            other.notify,
            other.rule_id,
            other.reason,
        )

    def __hash__(self) -> int:
        return hash((self.notify, self.rule_id, self.reason))

    def __repr__(self) -> str:
        return f"Decision(notify={self.notify!r}, rule_id={self.rule_id!r}, reason={self.reason!r})"


# --- evaluation -------------------------------------------------------------


def _name_matches(names: Names, value: str) -> bool:
    exact, globs = names
    if value in exact:
        return True
    for prefix, suffix, pattern in globs:
        if len(value) >= len(prefix) + len(suffix) and value.startswith(prefix) and value.endswith(suffix):
            if not pattern:
                return True
            from fnmatch import fnmatchcase  # imports re: only when really needed

            if fnmatchcase(value, pattern):
                return True
    return False


def _any_name_matches(names: Names, values: Sequence[str]) -> bool:
    if not names[0].isdisjoint(values):
        return True
    return bool(names[1]) and any(_name_matches(names, value) for value in values)


def _matches_object(rule: CompiledRule, n: Notification, *, states: bool = True) -> bool:
    """Every criterion but the time window (and ``states`` if false); cheap set lookups first."""
    criterion = rule["channels"]
    if criterion is not None and n.channel not in criterion:
        return False
    criterion = rule["types"]
    if criterion is not None and n.type not in criterion:
        return False
    criterion = rule["states"]
    if states and criterion is not None and n.state not in criterion:
        return False
    names = rule["hosts"]
    if names is not None and not _name_matches(names, n.host):
        return False
    names = rule["hostgroups"]
    if names is not None and not _any_name_matches(names, n.hostgroups):
        return False
    if n.service is None:
        return not rule["service_only"]
    names = rule["services"]
    if names is not None and not _name_matches(names, n.service):
        return False
    names = rule["servicegroups"]
    return names is None or _any_name_matches(names, n.servicegroups)


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        import datetime as dt

        return dt.UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def utc_offset_at(offsets: UtcOffsets, epoch: float) -> int | None:
    """The zone's UTC offset at ``epoch`` from precomputed transitions; None outside them."""
    starts, values, end = offsets
    if not starts or epoch < starts[0] or epoch >= end:
        return None
    offset = values[0]
    for start, value in zip(starts, values, strict=True):  # a handful of entries: no bisect import
        if start > epoch:
            break
        offset = value
    return offset


def local_clock(when: datetime | None, timezone: str, offsets: UtcOffsets | None = None) -> tuple[int, int]:
    """(weekday, Monday = 0; minute of the day) of ``when`` (None = now) in ``timezone``.

    With the snapshot's precomputed ``offsets`` (``rulebook.utc_offsets``) this is integer
    arithmetic: the filter then imports neither ``datetime`` nor ``zoneinfo`` (5 ms of its
    start, more than its own work). Outside the covered years it asks ``zoneinfo``.
    """
    if offsets is not None:
        if when is None:
            import time

            epoch = time.time()
        else:
            epoch = when.timestamp()
        offset = utc_offset_at(offsets, epoch)
        if offset is not None:
            days, seconds = divmod(int(epoch // 1) + offset, 86400)
            return (days + 3) % 7, seconds // 60  # 1970-01-01 was a Thursday (3)
    if when is None:
        import datetime as dt

        when = dt.datetime.now(dt.UTC)
    local = when.astimezone(_zone(timezone))
    return local.weekday(), local.hour * 60 + local.minute


def in_window(window: Window, clock: tuple[int, int]) -> bool:
    """Whether a local (weekday, minute) falls in a compiled window."""
    days, start, duration = window
    weekday, minute = clock
    if minute >= start:
        offset = minute - start
    else:  # the window may have started on the previous day
        weekday = (weekday - 1) % 7
        offset = minute + _DAY - start
    return bool(days >> weekday & 1) and offset < duration


def rule_matches(rule: CompiledRule, notification: Notification, timezone: str = "UTC") -> bool:
    """Whether one compiled rule matches a notification (for previews)."""
    window = rule["window"]
    return _matches_object(rule, notification) and (
        window is None or in_window(window, local_clock(notification.time, timezone))
    )


def can_suppress(contact: CompiledContact) -> bool:
    """Whether any notification at all could be suppressed for this contact."""
    return (
        not contact["default_notify"]
        or bool(contact.get("silences"))
        or "handed_over" in contact
        or "stand_in" in contact
        or any(not rule["notify"] or "oncall" in rule for rule in contact["rules"])
    )


def _when(notification: Notification) -> float:
    """The notification's time in epoch seconds (now when it has none)."""
    if notification.time is None:
        import time

        return time.time()
    return notification.time.timestamp()


def silence_reason(silence: CompiledSilence) -> str:
    """``silenced until 2026-12-03 14:00 UTC (silence #7: deploy of web)``: the log's reason."""
    import time

    until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(silence["until"]))
    comment = f": {silence['comment']}" if silence["comment"] else ""
    return f"silenced until {until} UTC (silence #{silence['id']}{comment})"


def active_silence(contact: CompiledContact, notification: Notification) -> CompiledSilence | None:
    """The first silence of the contact that mutes this notification now, if any.

    A silence is active from ``start`` until strictly before ``until``: the notification's
    own time decides (now on the node), so a silence ends on the node with the portal
    stopped. It mutes what its matchers match, except a RECOVERY or ACKNOWLEDGEMENT: those
    follow their PROBLEM (a problem sent before the silence still gets its recovery, one
    muted by it does not, see ``evaluate_followup``) unless the silence names their type.
    """
    silences = contact.get("silences")
    if not silences:
        return None
    followup = notification.type in FOLLOWUP_TYPES
    now: float | None = None
    for silence in silences:
        match = silence["match"]
        types = match["types"]
        if followup and (types is None or notification.type not in types):
            continue
        if not _matches_object(match, notification):
            continue
        if now is None:
            now = _when(notification)
        if silence["start"] <= now < silence["until"]:
            return silence
    return None


def handed_over_decision(contact: CompiledContact, notification: Notification) -> Decision | None:
    """Suppress when a hand-over says this contact is not the one to tell now; None: the rules decide.

    The contact's own entry: inside one of its hand-overs, "handed over to bob until …". A
    stand-in's entry (``bob--for--alice``): outside all of its windows, "hand-over from alice
    not active". A window runs from its start until strictly before its end, by the
    notification's time (now on the node): it starts and ends there with the portal stopped.
    A RECOVERY or ACKNOWLEDGEMENT is never held back here: it follows its PROBLEM (sent to
    alice before the hand-over, or to bob during it) through the sent-problem records.
    """
    if notification.type in FOLLOWUP_TYPES:
        return None
    stand_in = contact.get("stand_in")
    handed = contact.get("handed_over")
    if stand_in is None and not handed:
        return None
    now = _when(notification)
    if stand_in is not None and not any(start <= now < end for start, end in stand_in["windows"]):
        return Decision(False, None, f"hand-over from {stand_in['name']} not active")
    for handover in handed or ():
        if handover["start"] <= now < handover["until"]:
            import time

            until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(handover["until"]))
            comment = f": {handover['comment']}" if handover["comment"] else ""
            return Decision(
                False,
                None,
                f"handed over to {handover['to']} until {until} UTC (hand-over #{handover['id']}{comment})",
            )
    return None


def _silenced(contact: CompiledContact, notification: Notification) -> Decision | None:
    silence = active_silence(contact, notification)
    return None if silence is None else Decision(False, None, silence_reason(silence))


def on_call(rotation: Rotation, when: float) -> str | None:
    """Who (user name) is on call at ``when`` (epoch seconds); None: nobody.

    An override covering ``when`` decides (the first listed; ``""``: nobody). Otherwise
    shifts change every ``period`` days at the wall-clock ``handoff`` in the rotation's
    time zone, the first shift starting on ``anchor`` with the first member. A DST change
    moves the hand-off with the wall clock: 09:00 stays 09:00 (PEP 495, fold 0: a hand-off
    in the hour that is skipped happens as many minutes after the change as it would have
    been after 02:00; in the hour that repeats, at its first occurrence). Before the first
    shift nobody is on call.
    """
    for start, end, member in rotation["overrides"]:
        if start <= when < end:
            return member or None
    members = rotation["members"]
    if not members:
        return None
    import datetime as dt

    zone = _zone(rotation["timezone"])
    day = dt.datetime.fromtimestamp(when, zone).date()
    hour, minute = divmod(rotation["handoff"], 60)
    if when < dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp():
        day -= dt.timedelta(days=1)  # before today's hand-off: yesterday's shift goes on
    shift = (day.toordinal() - rotation["anchor"]) // rotation["period"]
    return members[shift % len(members)] if shift >= 0 else None


def next_on_call(rotation: Rotation, when: float) -> tuple[float, str | None] | None:
    """The next change of who is on call after ``when``: (epoch seconds, user name or None).

    None when nothing changes in the next ``period`` times members days (plus overrides).
    """
    import datetime as dt

    zone = _zone(rotation["timezone"])
    hour, minute = divmod(rotation["handoff"], 60)
    candidates = {t for override in rotation["overrides"] for t in override[:2] if t > when}
    first = dt.datetime.fromtimestamp(when, zone).date()
    for offset in range(rotation["period"] * max(len(rotation["members"]), 1) + 2):
        day = first + dt.timedelta(days=offset)
        if (day.toordinal() - rotation["anchor"]) % rotation["period"] == 0:
            instant = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
            if instant > when:
                candidates.add(instant)
    current = on_call(rotation, when)
    for instant in sorted(candidates):
        who = on_call(rotation, instant)
        if who != current:
            return instant, who
    return None


def on_call_matches(contact: CompiledContact, team: str, notification: Notification) -> bool:
    """Whether this contact is on call for ``team`` now, or nobody is and it is the team's fallback."""
    oncall = contact.get("oncall")
    rotation = oncall["rotations"].get(team) if oncall is not None else None
    if oncall is None or rotation is None:
        return False  # no rotation (yet): "while I am on call" is never
    who = on_call(rotation, _when(notification))
    if who is None:
        return bool(rotation["fallback"]) and rotation["fallback"] == oncall["user"]
    return who == oncall["user"]


FOLLOWUP_TYPES = ("RECOVERY", "ACKNOWLEDGEMENT")


def _followup_rule(contact: CompiledContact, notification: Notification) -> tuple[bool, RuleId, str] | None:
    """The rule that decides a RECOVERY/ACK itself: (notify, id, name); None: it follows its problem."""
    clock: tuple[int, int] | None = None
    covered = False  # an earlier notify rule without types took this object: it follows its problem
    for position, rule in enumerate(contact["rules"], start=1):
        types = rule["types"]
        if types is None:
            if covered:
                continue
            if rule["notify"]:
                # Its states are the problem's, not the follow-up's: leave them aside.
                if not _matches_object(rule, notification, states=False):
                    continue
            elif not _matches_object(rule, notification):
                continue
        elif notification.type not in types or not _matches_object(rule, notification):
            continue
        window = rule["window"]
        if window is not None:
            if clock is None:
                clock = local_clock(notification.time, contact["timezone"], contact.get("utc_offsets"))
            if not in_window(window, clock):
                continue
        if "oncall" in rule and not on_call_matches(contact, rule["oncall"], notification):
            continue
        if types is None and rule["notify"]:
            covered = True
            continue
        rule_id = rule["id"]
        return rule["notify"], rule_id, f"rule {rule_id}" if rule_id is not None else f"rule #{position}"
    return None


def evaluate_followup(
    contact: CompiledContact, notification: Notification, problem_sent: bool | None
) -> Decision:
    """A RECOVERY or ACKNOWLEDGEMENT follows the PROBLEM it ends, unless a rule says otherwise.

    "Notify me of CRITICAL on web" must bring the recoveries of those problems too, and
    only of those: a RECOVERY carries state OK, which such a rule does not list. So a
    notify rule without ``types`` does not decide here. The rules that do, first match
    wins:

    * a rule that names the type in ``types`` (even a notify one cannot send a RECOVERY
      of a problem this contact never got);
    * a suppress rule without ``types`` ("quiet nights": everything 22:00-07:00) that
      matches the follow-up (object, channel, ``states`` absent or listing its state,
      time window): silence means silence, the end of a problem sent in the day too.
      Unless an earlier notify rule without ``types`` matches the object (its ``states``
      aside) in its window: rules above "quiet nights" that let a problem through at
      night let its end through as well.

    Otherwise the notification goes out exactly when its problem went out.
    ``problem_sent`` is None in a preview, where the node's record is unknown.
    A silence naming the follow-up's type in its ``types`` mutes it first (``active_silence``).
    """
    silenced = _silenced(contact, notification)
    if silenced is not None:
        return silenced
    ruling = _followup_rule(contact, notification)
    if ruling is not None:
        notify, rule_id, name = ruling
        if notify and problem_sent is False:
            return Decision(False, rule_id, f"{name} matched; but its problem was not sent to this contact")
        return Decision(notify, rule_id, f"{name} matched")
    if problem_sent is None:
        return Decision(True, None, "follows its problem: sent if the problem was sent to this contact")
    if problem_sent:
        return Decision(True, None, "its problem was sent to this contact")
    return Decision(False, None, "its problem was not sent to this contact")


def evaluate_unrecorded_followup(
    contact: CompiledContact, notification: Notification, problem_state: str
) -> Decision:
    """A RECOVERY/ACK whose PROBLEM this node never saw: it follows that PROBLEM as decided here now.

    In a cluster an object's notifier can move (failover) while a problem is open: the
    node that sends the RECOVERY may not be the one that sent, or held back, the
    PROBLEM. Deciding the PROBLEM (``problem_state``, e.g. Naemon's
    ``$LASTSERVICESTATE$``) with this contact's rules gives what the other node decided,
    unless the rules or the time changed in between. Rules on the follow-up itself
    (``evaluate_followup``) still apply. The reason says so: the history must explain
    why a recovery went out without a recorded problem.
    """
    silenced = _silenced(contact, notification)
    if silenced is not None:
        return silenced
    problem = Notification(
        contact=notification.contact,
        channel=notification.channel,
        type="PROBLEM",
        host=notification.host,
        state=problem_state,
        hostgroups=notification.hostgroups,
        service=notification.service,
        servicegroups=notification.servicegroups,
        notification_id=notification.notification_id,
        time=notification.time,
    )
    decided = evaluate(contact, problem)
    verdict = "notify" if decided.notify else "suppress"
    reason = f"no record on this node: problem decided as {problem_state}: {verdict} ({decided.reason})"
    ruling = _followup_rule(contact, notification)
    if ruling is None:
        return Decision(decided.notify, decided.rule_id, reason)
    notify, rule_id, name = ruling
    if notify and not decided.notify:
        return Decision(False, rule_id, f"{reason}; {name} matched; but its problem would not have been sent")
    if notify == decided.notify and decided.reason == f"{name} matched":
        return Decision(notify, rule_id, reason)  # one rule decided both: say it once
    return Decision(notify, rule_id, f"{reason}; {name} matched")


def evaluate(contact: CompiledContact, notification: Notification) -> Decision:
    """First matching rule decides; otherwise the contact's default."""
    if contact["format"] != COMPILED_FORMAT:
        raise ValueError(f"compiled rules have format {contact['format']!r}, not {COMPILED_FORMAT}")
    if "handed_over" in contact or "stand_in" in contact:
        handed = handed_over_decision(contact, notification)
        if handed is not None:
            return handed
    if "silences" in contact:
        silenced = _silenced(contact, notification)
        if silenced is not None:
            return silenced
    clock: tuple[int, int] | None = None
    for position, rule in enumerate(contact["rules"], start=1):
        if not _matches_object(rule, notification):
            continue
        window = rule["window"]
        if window is not None:
            if clock is None:
                clock = local_clock(notification.time, contact["timezone"], contact.get("utc_offsets"))
            if not in_window(window, clock):
                continue
        if "oncall" in rule and not on_call_matches(contact, rule["oncall"], notification):
            continue
        rule_id = rule["id"]
        name = f"rule {rule_id}" if rule_id is not None else f"rule #{position}"
        return Decision(rule["notify"], rule_id, f"{name} matched")
    if contact["default_notify"]:
        return Decision(True, None, "no rule matched; default notify")
    return Decision(False, None, "no rule matched; default suppress")
