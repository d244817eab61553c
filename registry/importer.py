"""Import existing Naemon/Nagios object definitions into the registry.

``import_paths(paths)`` reads object config files (directories: every ``*.cfg`` below
them), resolves what the registry cannot hold as Naemon would, validates every object
with the model's rules (and the renderer's), and creates or updates registry objects by
name. What is invalid or unsupported is reported and skipped, never half-imported.

How Naemon's features map:

* Host and service templates (``name``, ``register 0``) become HostTemplate /
  ServiceTemplate with their ``use`` chains in order; the directives a registry template
  cannot hold (``hostgroups``, ``contacts``, ``contact_groups``, ``parents``,
  ``servicegroups``) are resolved through the chain (first ``use`` wins, ``+`` adds, ``null``
  clears) and set on each object that inherits them.
* Contact and time period templates are flattened into the objects that use them.
* Host group membership may be declared on either side (a host's ``hostgroups``, a group's
  ``members``); so may service group membership (``servicegroups`` / ``members host,svc``)
  and contact group membership.
* A service on several hosts (``host_name a,b``) becomes one service per host; a service on
  host groups keeps its host groups.
* Commands used as contacts' notification commands get a ``channel`` (``email`` when the
  name mentions mail, ``sms`` for sms/pager, else the command's name) so the renderer wraps
  them in the notify-filter.
* Naemon pastes ``$ARGn$`` unquoted, so ``check_http!-H www -p 80`` passed four arguments; the
  portal renders every macro as one argument unless staff declare it free-form. Every ``$ARGn$``
  to which an imported object passes a value with a space is marked free-form (and reported),
  so the imported site behaves as before; a value that is more than words (``80 *``) is refused.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from registry import models as m
from registry import validation
from registry.config_parse import ADDITIVE as ADDITIVE
from registry.config_parse import Definition as Definition
from registry.config_parse import Resolver as Resolver
from registry.config_parse import config_files as config_files
from registry.config_parse import parse_text as parse_text
from registry.config_parse import split_list as split_list
from registry.directives import missing_directives
from registry.import_relations import RELATION_KINDS, import_relations
from registry.validation import NaemonValueError

# --- importing --------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did."""

    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Each directive or definition it could not hold, as ``file:line: what`` (``--strict`` refuses them).
    dropped_at: list[str] = field(default_factory=list)
    free_form: list[str] = field(default_factory=list)

    def lost(self) -> bool:
        """Whether anything read was not imported as it is (dropped or skipped)."""
        return bool(self.dropped_at or self.skipped)

    def count(self, kind: str, created: bool) -> None:
        (self.created if created else self.updated)[kind] += 1

    def lines(self) -> list[str]:
        """A readable report."""
        out = []
        for kind in sorted(set(self.created) | set(self.updated)):
            out.append(f"{kind}: {self.created.get(kind, 0)} created, {self.updated.get(kind, 0)} updated")
        for directive, n in sorted(self.dropped.items()):
            out.append(f"not supported, dropped: {directive} ({n} times)")
        out += [f"dropped: {where}" for where in self.dropped_at]
        out += self.free_form
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"skipped: {s}" for s in self.skipped]
        return out


# Directive -> field of the on/off directives the registry holds (registry/check_settings.py).
BOOLEAN_DIRECTIVES = {
    "event_handler_enabled": "event_handler_enabled",
    "flap_detection_enabled": "flap_detection_enabled",
    "check_freshness": "check_freshness",
    "obsess": "obsess",
    "obsess_over_host": "obsess",  # Nagios' names for Naemon's obsess
    "obsess_over_service": "obsess",
    "process_perf_data": "process_perf_data",
    "retain_status_information": "retain_status_information",
    "retain_nonstatus_information": "retain_nonstatus_information",
    "is_volatile": "is_volatile",
}
TEXT_DIRECTIVES = (
    "flap_detection_options",
    "notes_url",
    "action_url",
    "display_name",
    "icon_image",
    "icon_image_alt",
)
CHECK_DIRECTIVES = {
    "check_command",
    "check_interval",
    "normal_check_interval",
    "retry_interval",
    "retry_check_interval",
    "max_check_attempts",
    "check_period",
    "active_checks_enabled",
    "passive_checks_enabled",
    "notifications_enabled",
    "notification_interval",
    "notification_period",
    "notification_options",
    "notes",
    *BOOLEAN_DIRECTIVES,
    *TEXT_DIRECTIVES,
    "event_handler",
    "low_flap_threshold",
    "high_flap_threshold",
    "freshness_threshold",
}
# Naemon has no volatile hosts; obsess_over_service is a service's directive.
HOST_DIRECTIVES = CHECK_DIRECTIVES - {"is_volatile", "obsess_over_service"}
FLATTENED = {
    "hostgroups",
    "contacts",
    "contact_groups",
    "parents",
    "servicegroups",
    "host_name",
    "hostgroup_name",
}
IGNORED = {"name", "use", "register"}


class Invalid(Exception):
    """An object that cannot be imported; the message says why."""


def _errors_text(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())


def _passed_by(kind: str, d: Definition) -> str:
    """How the free-form report names an object: ``web1``, ``web1/HTTP``, ``template generic-web``."""
    if d.is_template and not d.registered:
        return f"{kind} template {d.get('name')}"
    if kind == "host":
        return d.get("host_name") or d.get("name")
    where = d.get("host_name") or d.get("hostgroup_name") or d.get("name")
    return f"{where}/{d.get('service_description')}"


def split_check_command(value: str) -> tuple[str, list[str]]:
    """``name!arg1!arg2`` (``\\!`` is a literal '!') into the command name and its arguments."""
    parts = [p.replace("\x00", "!") for p in value.replace("\\!", "\x00").split("!")]
    return parts[0].strip(), parts[1:]


class Importer:
    """One import run: definitions in, registry objects out (call ``run`` inside a transaction)."""

    def __init__(self, definitions: list[Definition], report: ImportReport) -> None:
        self.report = report
        self.by_kind: dict[str, list[Definition]] = defaultdict(list)
        for d in definitions:
            self.by_kind[d.kind].append(d)
        self.resolvers = {kind: Resolver(defs) for kind, defs in self.by_kind.items()}
        self.hostgroup_members: dict[str, set[str]] = defaultdict(set)  # host -> groups (from members)
        self.servicegroup_members: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.contactgroup_members: dict[str, set[str]] = defaultdict(set)  # group -> contacts

    # -- helpers ---------------------------------------------------------------------

    def objects(self, kind: str) -> list[Definition]:
        return [d for d in self.by_kind.get(kind, []) if d.registered]

    def templates(self, kind: str) -> list[Definition]:
        return [d for d in self.by_kind.get(kind, []) if d.is_template]

    def skip(self, what: str, definition: Definition, why: str) -> None:
        self.report.skipped.append(f"{what} ({definition.origin}): {why}")

    def drop(self, what: str, d: Definition, key: str = "") -> None:
        """Report a directive (or a whole definition) the registry cannot hold, with its file and line."""
        self.report.dropped[what] += 1
        self.report.dropped_at.append(f"{d.where.get(key, d.origin)}: {what}")

    def drop_unsupported(
        self, kind: str, d: Definition, directives: Iterable[str], supported: set[str]
    ) -> None:
        for key in directives:
            if key not in supported and key not in IGNORED and not key.startswith("_"):
                self.drop(f"{kind} {key}", d, key)

    def lookup(self, model: Any, names: Iterable[str], what: str, definition: Definition) -> list[Any]:
        names = list(names)
        found = {o.name: o for o in model.objects.filter(name__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            self.report.warnings.append(
                f"{definition.origin}: {what} {', '.join(missing)} not found; left out"
            )
        return [found[n] for n in names if n in found]

    def check_settings(self, definition: Definition, directives: dict[str, str]) -> dict[str, Any]:
        """CheckSettings fields from directives (raises Invalid on unusable values)."""
        fields: dict[str, Any] = {}
        if "check_command" in directives:
            name, args = split_check_command(directives["check_command"])
            command = m.Command.objects.filter(name=name).first()
            if command is None:
                raise Invalid(f"check_command {name!r} is not defined")
            fields["check_command"], fields["check_command_args"] = command, args
        for key, target in (
            ("check_interval", "check_interval"),
            ("normal_check_interval", "check_interval"),
            ("retry_interval", "retry_interval"),
            ("retry_check_interval", "retry_interval"),
            ("max_check_attempts", "max_check_attempts"),
            ("notification_interval", "notification_interval"),
        ):
            if key in directives:
                try:
                    fields[target] = int(float(directives[key]))
                except ValueError:
                    raise Invalid(f"{key} {directives[key]!r} is not a number") from None
        for key in ("active_checks_enabled", "passive_checks_enabled", "notifications_enabled"):
            if key in directives:
                fields[key] = directives[key].strip() not in ("0", "")
        for key in ("check_period", "notification_period"):
            if key in directives:
                period = m.TimePeriod.objects.filter(name=directives[key]).first()
                if period is None:
                    raise Invalid(f"{key} {directives[key]!r} is not defined")
                fields[key] = period
        if "notification_options" in directives:
            fields["notification_options"] = directives["notification_options"].replace(" ", "")
        if "notes" in directives:
            fields["notes"] = directives["notes"]
        fields |= self.object_directives(directives)
        fields["custom_variables"] = {k: v for k, v in directives.items() if k.startswith("_")}
        return fields

    def object_directives(self, directives: dict[str, str]) -> dict[str, Any]:
        """Issue 16's directives: event handler, flap detection, freshness, retention, URLs, display."""
        fields: dict[str, Any] = {}
        if "event_handler" in directives:
            name, args = split_check_command(directives["event_handler"])
            if args:
                raise Invalid("event_handler arguments (name!arg) are not supported: give the command them")
            fields["event_handler"] = m.Command.objects.filter(name=name).first()
            if fields["event_handler"] is None:
                raise Invalid(f"event_handler {name!r} is not defined")
        for key, target in BOOLEAN_DIRECTIVES.items():
            if key in directives:
                fields[target] = directives[key].strip() not in ("0", "")
        for key in ("low_flap_threshold", "high_flap_threshold", "freshness_threshold"):
            if key in directives:
                try:
                    number = float(directives[key])
                except ValueError:
                    raise Invalid(f"{key} {directives[key]!r} is not a number") from None
                fields[key] = int(number) if key == "freshness_threshold" else number
        for key in TEXT_DIRECTIVES:
            if key in directives:
                value = directives[key]
                fields[key] = value.replace(" ", "") if key == "flap_detection_options" else value
        return fields

    def save(
        self,
        model: Any,
        lookup: dict[str, Any],
        fields: dict[str, Any],
        what: str,
        *,
        templates: list[Any] | None = None,
    ) -> Any:
        """Validate like the API does (and like the renderer will), then create or update.

        ``templates`` (hosts, services): the templates it will use, to check that it resolves
        every directive the core requires.
        """
        obj = model.objects.filter(**lookup).first()
        created = obj is None
        if created:
            obj = model(**lookup)
        for key, value in fields.items():
            setattr(obj, key, value)
        errors = obj.naemon_errors()
        if errors:
            raise Invalid(_errors_text(errors))
        missing = missing_directives(obj, templates) if templates is not None else []
        if missing:
            raise Invalid(
                f"{', '.join(missing)} not set, nor inherited from its templates: the core would refuse it"
            )
        for name in ("name", "alias"):
            value = getattr(obj, name, "")
            if value:
                try:
                    (validation.check_name if name == "name" else validation.check_value)(value, what=name)
                except NaemonValueError as exc:
                    raise Invalid(str(exc)) from None
        obj.save()
        self.report.count(what, created)
        return obj

    # -- the run ---------------------------------------------------------------------

    def run(self) -> None:
        """Import every kind in dependency order."""
        self.timeperiods()
        self.commands()
        self.free_form_args()
        self.collect_memberships()
        self.contacts()
        self.contactgroups()
        self.groups("hostgroup", m.HostGroup)
        self.groups("servicegroup", m.ServiceGroup)
        self.links("timeperiod", "exclude", m.TimePeriod)
        self.links("hostgroup", "hostgroup_members", m.HostGroup)
        self.links("servicegroup", "servicegroup_members", m.ServiceGroup)
        self.templates_of("host", m.HostTemplate, m.HostTemplateUse, validation_letters="durfsn")
        self.templates_of("service", m.ServiceTemplate, m.ServiceTemplateUse, validation_letters="wucrfsn")
        self.hosts()
        self.services()
        self.channels()
        import_relations(self)  # dependencies and escalations: registry/import_relations.py

    def timeperiods(self) -> None:
        resolver = self.resolvers.get("timeperiod")
        for d in self.objects("timeperiod"):
            name = d.get("timeperiod_name")
            if not name:
                self.skip("timeperiod", d, "no timeperiod_name")
                continue
            assert resolver is not None
            directives = resolver.resolved(d)
            ranges = {}
            try:
                for key, value in directives.items():
                    if key in ("timeperiod_name", "alias"):
                        continue
                    if key == "exclude":  # linked once every period exists (links())
                        continue
                    day, _, times = " ".join(f"{key} {value}".split()).rpartition(" ")
                    ranges[validation.check_timeperiod_day(day, what=f"day {day!r}")] = (
                        validation.check_time_ranges(times, what=f"ranges of {day}")
                    )
                self.save(
                    m.TimePeriod,
                    {"name": name},
                    {"alias": directives.get("alias", ""), "ranges": ranges},
                    "timeperiods",
                )
            except (Invalid, NaemonValueError) as exc:
                self.skip(f"timeperiod {name!r}", d, str(exc))

    def commands(self) -> None:
        for d in self.objects("command"):
            name, line = d.get("command_name"), d.get("command_line")
            try:
                self.save(m.Command, {"name": name}, {"command_line": line}, "commands")
            except Invalid as exc:
                self.skip(f"command {name!r}", d, str(exc))

    def free_form_args(self) -> None:
        """Mark free-form every $ARGn$ that an imported object passes a value with a space to."""
        passed: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)  # command -> n -> (value, by)
        for kind in ("host", "service"):
            for d in self.by_kind.get(kind, []):
                if "check_command" not in d.directives:
                    continue
                name, args = split_check_command(d.get("check_command"))
                for number, value in enumerate(args, start=1):
                    if " " in value.strip():
                        passed[name].setdefault(number, (value, _passed_by(kind, d)))
        for name, numbers in sorted(passed.items()):
            command = m.Command.objects.filter(name=name).first()
            if command is None:
                continue  # reported with the objects that refer to it
            before = command.free_form_args if isinstance(command.free_form_args, list) else []
            # An $ARGn$ the line does not use needs no declaration: its value reaches no plugin.
            new = sorted(n for n in numbers if n not in before and f"$ARG{n}$" in command.command_line)
            if not new:
                continue
            command.free_form_args = sorted({*before, *new})
            errors = command.naemon_errors() or command.stored_value_errors()
            if errors:
                self.report.skipped.append(f"command {name!r}: not marked free-form: {_errors_text(errors)}")
                continue
            command.save(update_fields=["free_form_args", "updated_at"])
            macros = ", ".join(f"$ARG{n}$" for n in new)
            by = "; ".join(f"{numbers[n][0]!r} by {numbers[n][1]}" for n in new)
            self.report.free_form.append(f"{name}: {macros} marked free-form (passed {by})")

    def collect_memberships(self) -> None:
        """Group membership declared on the groups' side (``members``), read before the objects."""
        for d in self.objects("hostgroup"):
            for host in split_list(d.get("members")):
                self.hostgroup_members[host].add(d.get("hostgroup_name"))
        for d in self.objects("servicegroup"):
            items = split_list(d.get("members"))
            for host, service in zip(items[::2], items[1::2], strict=False):
                self.servicegroup_members[(host, service)].add(d.get("servicegroup_name"))
        for d in self.objects("contactgroup"):
            self.contactgroup_members[d.get("contactgroup_name")].update(split_list(d.get("members")))
            if d.get("contactgroup_members"):
                self.drop("contactgroup contactgroup_members", d, "contactgroup_members")

    def links(self, kind: str, key: str, model: Any) -> None:
        """A period's ``exclude``, a group's ``*_members``: names of its own kind, set once all exist.

        A link that would close a loop is dropped (the core cannot resolve it), reported where it is.
        """
        resolver = self.resolvers.get(kind)
        chosen: dict[str, tuple[Definition, list[str]]] = {}
        for d in self.objects(kind):
            value = (resolver.resolved(d) if resolver is not None else d.directives).get(key)
            if value and d.get(f"{kind}_name"):
                chosen[d.get(f"{kind}_name")] = (d, split_list(value))
        links: dict[str, list[str]] = {}
        for name, (d, names) in chosen.items():
            obj = model.objects.filter(name=name).first()
            if obj is None:
                continue
            kept: list[str] = []
            for found in self.lookup(model, names, key, d):
                if getattr(obj, "node_id", None) or getattr(found, "node_id", None):
                    # Groups placed on a poller stay out of member links (registry/serializers/objects.py).
                    self.drop(f"{kind} {key} {found.name} (a group on a poller)", d, key)
                elif validation.link_cycle(name, {**links, name: [*kept, found.name]}) is None:
                    kept.append(found.name)
                else:
                    self.drop(f"{kind} {key} {found.name} (a loop)", d, key)
            links[name] = kept
            getattr(obj, key).set(model.objects.filter(name__in=kept))

    def contacts(self) -> None:
        resolver = self.resolvers.get("contact")
        supported = {
            "contact_name", "alias", "email", "pager", "host_notification_period", "service_notification_period",
            "host_notification_options", "service_notification_options", "host_notification_commands",
            "service_notification_commands", "contactgroups",
        }  # fmt: skip
        for d in self.objects("contact"):
            name = d.get("contact_name")
            assert resolver is not None
            directives = resolver.resolved(d)
            self.drop_unsupported("contact", d, directives, supported)
            commands: dict[str, list[Any]] = {}
            try:
                for key in ("host_notification_commands", "service_notification_commands"):
                    names = [split_check_command(c)[0] for c in split_list(directives.get(key, ""))]
                    commands[key] = self.lookup(m.Command, names, key, d)
                    if not commands[key]:
                        raise Invalid(f"no {key}: the core would refuse it")
                fields: dict[str, Any] = {k: directives.get(k, "") for k in ("alias", "email", "pager")}
                for key in ("host_notification_period", "service_notification_period"):
                    if directives.get(key):
                        fields[key] = m.TimePeriod.objects.filter(name=directives[key]).first()
                        if fields[key] is None:
                            raise Invalid(f"{key} {directives[key]!r} is not defined")
                for key in ("host_notification_options", "service_notification_options"):
                    if key in directives:
                        fields[key] = directives[key].replace(" ", "")
                contact = self.save(m.Contact, {"name": name}, fields, "contacts")
            except Invalid as exc:
                self.skip(f"contact {name!r}", d, str(exc))
                continue
            for key, found in commands.items():
                getattr(contact, key).set(found)
            for group in split_list(directives.get("contactgroups", "")):
                self.contactgroup_members[group].add(name)

    def contactgroups(self) -> None:
        for d in self.objects("contactgroup"):
            name = d.get("contactgroup_name")
            try:
                group = self.save(m.ContactGroup, {"name": name}, {"alias": d.get("alias")}, "contact groups")
            except Invalid as exc:
                self.skip(f"contactgroup {name!r}", d, str(exc))
                continue
            group.members.set(self.lookup(m.Contact, sorted(self.contactgroup_members[name]), "contacts", d))

    def groups(self, kind: str, model: Any) -> None:
        for d in self.objects(kind):
            name = d.get(f"{kind}_name")
            try:
                self.save(model, {"name": name}, {"alias": d.get("alias")}, f"{kind}s")
            except Invalid as exc:
                self.skip(f"{kind} {name!r}", d, str(exc))

    def templates_of(self, kind: str, model: Any, use_model: Any, *, validation_letters: str) -> None:
        supported = (HOST_DIRECTIVES if kind == "host" else CHECK_DIRECTIVES) | FLATTENED
        saved: dict[str, tuple[Any, Definition]] = {}
        for d in self.templates(kind):
            name = d.get("name")
            self.drop_unsupported(f"{kind} template", d, d.directives, supported)
            try:
                saved[name] = (
                    self.save(
                        model, {"name": name}, self.check_settings(d, d.directives), f"{kind} templates"
                    ),
                    d,
                )
            except Invalid as exc:
                self.skip(f"{kind} template {name!r}", d, str(exc))
        for template, d in saved.values():
            use_model.objects.filter(template=template).delete()
            for position, used in enumerate(self.lookup(model, split_list(d.get("use")), "templates", d)):
                use_model.objects.create(template=template, uses=used, position=position)

    def used_templates(self, model: Any, d: Definition) -> list[Any]:
        """The registry templates an object definition uses, in order."""
        names = split_list(d.get("use"))
        if d.is_template and d.registered:
            names = [d.get("name")]  # an object that is also a template: its own template carries it
        return self.lookup(model, names, "templates", d)

    def _uses(self, obj: Any, through: Any, fk: str, templates: list[Any]) -> None:
        through.objects.filter(**{fk: obj}).delete()
        for position, template in enumerate(templates):
            through.objects.create(**{fk: obj, "template": template, "position": position})

    def hosts(self) -> None:
        resolver = self.resolvers["host"] if "host" in self.resolvers else Resolver([])
        supported = HOST_DIRECTIVES | FLATTENED | {"host_name", "alias", "address"}
        created: list[tuple[Any, Definition]] = []
        for d in self.objects("host"):
            name = d.get("host_name")
            if not name:
                self.skip("host", d, "no host_name")
                continue
            self.drop_unsupported("host", d, d.directives, supported)
            missing = resolver.missing(d)
            try:
                if missing:
                    raise Invalid(f"template(s) {', '.join(missing)} not defined")
                own = d.directives if not (d.is_template and d.registered) else {}
                fields = self.check_settings(d, own) | {"alias": d.get("alias"), "address": d.get("address")}
                templates = self.used_templates(m.HostTemplate, d)
                host = self.save(m.Host, {"name": name}, fields, "hosts", templates=templates)
            except Invalid as exc:
                self.skip(f"host {name!r}", d, str(exc))
                continue
            self._uses(host, m.HostUse, "host", templates)
            groups = set(split_list(resolver.value(d, "hostgroups") or "")) | self.hostgroup_members.get(
                name, set()
            )
            host.hostgroups.set(self.lookup(m.HostGroup, sorted(groups), "host groups", d))
            host.contacts.set(
                self.lookup(m.Contact, split_list(resolver.value(d, "contacts") or ""), "contacts", d)
            )
            cgroups = split_list(resolver.value(d, "contact_groups") or "")
            host.contact_groups.set(self.lookup(m.ContactGroup, cgroups, "contact groups", d))
            created.append((host, d))
        for host, d in created:
            host.parents.set(
                self.lookup(m.Host, split_list(resolver.value(d, "parents") or ""), "parents", d)
            )
        for d in self.objects("hostgroup"):
            unknown = [h for h in split_list(d.get("members")) if h in ("*",) or h.startswith("!")]
            if unknown:
                # The registry's membership is explicit: '*' and '!name' are refused (docs/registry.md).
                self.drop(f"hostgroup members {', '.join(unknown)} (wildcards, exclusions)", d, "members")

    def services(self) -> None:
        resolver = self.resolvers["service"] if "service" in self.resolvers else Resolver([])
        supported = CHECK_DIRECTIVES | FLATTENED | {"service_description"}
        for d in self.objects("service"):
            description = resolver.value(d, "service_description") or ""
            hosts = split_list(resolver.value(d, "host_name") or "")
            groups = split_list(resolver.value(d, "hostgroup_name") or "")
            what = f"service {description!r}"
            self.drop_unsupported("service", d, d.directives, supported)
            if not hosts and not groups:
                self.skip(what, d, "neither host_name nor hostgroup_name")
                continue
            if any(h == "*" or h.startswith("!") for h in hosts + groups):
                self.skip(what, d, "wildcards and exclusions in host_name/hostgroup_name are not supported")
                continue
            missing = resolver.missing(d)
            try:
                if missing:
                    raise Invalid(f"template(s) {', '.join(missing)} not defined")
                own = d.directives if not (d.is_template and d.registered) else {}
                fields = self.check_settings(d, own)
                templates = self.used_templates(m.ServiceTemplate, d)
            except Invalid as exc:
                self.skip(what, d, str(exc))
                continue
            targets: list[tuple[Any, list[Any]]] = []
            for host_name in hosts:
                host = m.Host.objects.filter(name=host_name).first()
                if host is None:
                    self.skip(f"{what} on {host_name!r}", d, "host not imported")
                else:
                    targets.append((host, []))
            if groups:
                targets.append((None, self.lookup(m.HostGroup, groups, "host groups", d)))
            for host, hostgroups in targets:
                try:
                    service = self.save_service(description, host, hostgroups, fields, templates)
                except Invalid as exc:
                    self.skip(what, d, str(exc))
                    continue
                self._uses(service, m.ServiceUse, "service", templates)
                sgroups = set(split_list(resolver.value(d, "servicegroups") or ""))
                if host is not None:
                    sgroups |= self.servicegroup_members.get((host.name, description), set())
                service.servicegroups.set(self.lookup(m.ServiceGroup, sorted(sgroups), "service groups", d))
                service.contacts.set(
                    self.lookup(m.Contact, split_list(resolver.value(d, "contacts") or ""), "contacts", d)
                )
                cgroups = split_list(resolver.value(d, "contact_groups") or "")
                service.contact_groups.set(self.lookup(m.ContactGroup, cgroups, "contact groups", d))

    def save_service(
        self, description: str, host: Any, hostgroups: list[Any], fields: dict[str, Any], templates: list[Any]
    ) -> Any:
        """A service is known by (host, description), or by (its host groups, description)."""
        if host is not None:
            lookup = {"host": host, "description": description}
            service = self.save(m.Service, lookup, fields, "services", templates=templates)
        else:
            wanted = {g.pk for g in hostgroups}
            existing = next(
                (
                    s
                    for s in m.Service.objects.filter(host__isnull=True, description=description)
                    if {g.pk for g in s.hostgroups.all()} == wanted
                ),
                None,
            )
            lookup = {"pk": existing.pk} if existing else {"description": description, "host": None}
            service = self.save(m.Service, lookup, fields, "services", templates=templates)
            service.hostgroups.set(hostgroups)
        return service

    def channels(self) -> None:
        """Commands that contacts notify with get a channel, so the renderer wraps them."""
        used = set(m.Contact.host_notification_commands.through.objects.values_list("command_id", flat=True))
        used |= set(
            m.Contact.service_notification_commands.through.objects.values_list("command_id", flat=True)
        )
        for command in m.Command.objects.filter(pk__in=used, channel=""):
            lower = command.name.lower()
            if "mail" in lower:
                channel = "email"
            elif "sms" in lower or "pager" in lower:
                channel = "sms"
            else:
                channel = re.sub(r"[^a-z0-9_-]", "-", lower)[:32].strip("-") or "default"
            m.Command.objects.filter(pk=command.pk).update(channel=channel)
            self.report.warnings.append(f"command {command.name!r} notifies: channel set to {channel!r}")


def import_paths(paths: Iterable[str | Path], *, dry_run: bool = False, strict: bool = False) -> ImportReport:
    """Import every object definition in ``paths`` in one transaction (rolled back with ``dry_run``).

    ``strict``: anything the registry cannot hold (a dropped directive or definition, a skipped
    object) rolls the whole import back; ``report.lost()`` says so.
    """
    report = ImportReport()
    definitions: list[Definition] = []
    for path in config_files(paths):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            report.skipped.append(f"{path}: cannot read ({exc.strerror})")
            continue
        found, problems = parse_text(text, str(path))
        definitions += found
        report.skipped += problems
    supported_kinds = {
        "timeperiod",
        "command",
        "contact",
        "contactgroup",
        "hostgroup",
        "servicegroup",
        "host",
        "service",
        *RELATION_KINDS,
    }
    for d in definitions:
        if d.kind not in supported_kinds:
            report.dropped[f"define {d.kind}"] += 1
            report.dropped_at.append(f"{d.origin}: define {d.kind}")
    with transaction.atomic():
        Importer([d for d in definitions if d.kind in supported_kinds], report).run()
        if dry_run or (strict and report.lost()):
            transaction.set_rollback(True)
    return report
