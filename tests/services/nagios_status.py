"""A running Nagios 4 core's own files as Livestatus tables: what the test front answers from.

``build_snapshot`` reads ``status.dat`` (states, checks, acknowledgements, comments,
downtimes) and ``Objects`` reads ``objects.cache`` (groups, members, contacts, addresses) into
rows shaped like naemon-livestatus's tables (tests/services/nagios_livestatus.py queries them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.services.nagios import parse_objects

LIVESTATUS_VERSION = "1.5.0-nagios4-test-front"

Row = dict[str, Any]


# -- the core's files ------------------------------------------------------------------------


def parse_status(text: str) -> list[tuple[str, dict[str, str]]]:
    """The blocks of a status.dat: ``(kind, fields)`` in file order."""
    blocks: list[tuple[str, dict[str, str]]] = []
    for match in re.finditer(r"^(\w+) \{\n(.*?)^\t\}", text, flags=re.M | re.S):
        fields = {}
        for line in match.group(2).split("\n"):
            key, sep, value = line.lstrip("\t").partition("=")
            if sep:
                fields[key] = value
        blocks.append((match.group(1), fields))
    return blocks


def _int(value: str | None) -> int:
    try:
        return int(float(value or 0))
    except ValueError:
        return 0


def _float(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _text(value: str | None) -> str:
    # Nagios writes long output with its line breaks as "\n" (two characters); Naemon's
    # Livestatus hands them out as real line breaks.
    return (value or "").replace("\\n", "\n")


@dataclass
class Objects:
    """What objects.cache tells: definitions by kind, and the group memberships."""

    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    services: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    hostgroups: dict[str, dict[str, str]] = field(default_factory=dict)
    servicegroups: dict[str, dict[str, str]] = field(default_factory=dict)
    contactgroups: dict[str, list[str]] = field(default_factory=dict)
    contacts: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str) -> Objects:
        """objects.cache as Nagios writes it (resolved: no templates, no ``use``)."""
        found = cls()
        for kind, pairs in parse_objects(text):
            fields = dict(pairs)
            if kind == "host":
                found.hosts[fields["host_name"]] = fields
            elif kind == "service":
                found.services[(fields["host_name"], fields["service_description"])] = fields
            elif kind == "hostgroup":
                found.hostgroups[fields["hostgroup_name"]] = fields
            elif kind == "servicegroup":
                found.servicegroups[fields["servicegroup_name"]] = fields
            elif kind == "contactgroup":
                found.contactgroups[fields["contactgroup_name"]] = _list(fields.get("members"))
            elif kind == "contact":
                found.contacts.add(fields["contact_name"])
        return found

    def host_groups(self, host: str) -> list[str]:
        return sorted(name for name, g in self.hostgroups.items() if host in _list(g.get("members")))

    def service_groups(self, host: str, service: str) -> list[str]:
        result = []
        for name, group in self.servicegroups.items():
            members = _list(group.get("members"))
            if (host, service) in zip(members[::2], members[1::2], strict=False):
                result.append(name)
        return sorted(result)

    def contacts_of(self, fields: dict[str, str]) -> list[str]:
        """Contacts of an object: its own and those of its contact groups (Naemon's ``contacts``)."""
        names = set(_list(fields.get("contacts")))
        for group in _list(fields.get("contact_groups")):
            names.update(self.contactgroups.get(group, []))
        return sorted(names)


def _custom_variables(fields: dict[str, str]) -> dict[str, str]:
    return {key[1:].upper(): value for key, value in fields.items() if key.startswith("_")}


# -- rows --------------------------------------------------------------------------------------


def _object_columns(status: dict[str, str], definition: dict[str, str], objects: Objects) -> Row:
    """Columns hosts and services share, from their status block and their definition."""
    custom = _custom_variables(definition)
    active = _int(status.get("active_checks_enabled"))
    return {
        "accept_passive_checks": _int(status.get("passive_checks_enabled")),
        "acknowledged": _int(status.get("problem_has_been_acknowledged")),
        "acknowledgement_type": _int(status.get("acknowledgement_type")),
        "active_checks_enabled": active,
        "checks_enabled": active,
        "check_command": status.get("check_command", definition.get("check_command", "")),
        "check_freshness": _int(definition.get("check_freshness")),
        "check_interval": _float(status.get("check_interval")),
        "check_options": _int(status.get("check_options")),
        "check_period": status.get("check_period", ""),
        "check_type": _int(status.get("check_type")),
        "contact_groups": sorted(_list(definition.get("contact_groups"))),
        "contacts": objects.contacts_of(definition),
        "current_attempt": _int(status.get("current_attempt")),
        "current_notification_number": _int(status.get("current_notification_number")),
        "custom_variable_names": list(custom),
        "custom_variable_values": list(custom.values()),
        "custom_variables": custom,
        "display_name": definition.get("display_name", ""),
        "event_handler": status.get("event_handler", ""),
        "event_handler_enabled": _int(status.get("event_handler_enabled")),
        "execution_time": _float(status.get("check_execution_time")),
        "flap_detection_enabled": _int(status.get("flap_detection_enabled")),
        "has_been_checked": _int(status.get("has_been_checked")),
        "in_check_period": 1,
        "in_notification_period": 1,
        "is_executing": 0,
        "is_flapping": _int(status.get("is_flapping")),
        "last_check": _int(status.get("last_check")),
        "last_hard_state": _int(status.get("last_hard_state")),
        "last_hard_state_change": _int(status.get("last_hard_state_change")),
        "last_notification": _int(status.get("last_notification")),
        "last_state_change": _int(status.get("last_state_change")),
        "last_update": _int(status.get("last_update")),
        "latency": _float(status.get("check_latency")),
        "long_plugin_output": _text(status.get("long_plugin_output")),
        "max_check_attempts": _int(status.get("max_attempts")),
        "modified_attributes": _int(status.get("modified_attributes")),
        "next_check": _int(status.get("next_check")),
        "next_notification": _int(status.get("next_notification")),
        "no_more_notifications": _int(status.get("no_more_notifications")),
        "notes": definition.get("notes", ""),
        "notes_url": definition.get("notes_url", ""),
        "action_url": definition.get("action_url", ""),
        "notification_interval": _float(definition.get("notification_interval")),
        "notification_period": status.get("notification_period", ""),
        "notifications_enabled": _int(status.get("notifications_enabled")),
        "obsess": _int(status.get("obsess")),
        "percent_state_change": _float(status.get("percent_state_change")),
        "perf_data": status.get("performance_data", ""),
        "plugin_output": status.get("plugin_output", ""),
        "process_performance_data": _int(status.get("process_performance_data")),
        "retry_interval": _float(status.get("retry_interval")),
        "scheduled_downtime_depth": _int(status.get("scheduled_downtime_depth")),
        "should_be_scheduled": _int(status.get("should_be_scheduled")),
        "state": _int(status.get("current_state")),
        "state_type": _int(status.get("state_type")),
    }


def _worst(states: Iterable[int]) -> int:
    # Naemon ranks CRITICAL above UNKNOWN above WARNING (state 2 > 3 > 1).
    rank = {0: 0, 1: 1, 3: 2, 2: 3}
    return max(states, key=lambda s: rank.get(s, 0), default=0)


@dataclass
class Snapshot:
    """Every table's rows at one moment."""

    status: list[Row]
    hosts: list[Row]
    services: list[Row]
    hostgroups: list[Row]
    servicegroups: list[Row]
    comments: list[Row]
    downtimes: list[Row]

    def table(self, name: str) -> list[Row] | None:
        if name in ("status", "hosts", "services", "hostgroups", "servicegroups", "comments", "downtimes"):
            rows: list[Row] = getattr(self, name)
            return rows
        if name == "hostsbygroup":
            groups = {row["name"]: row for row in self.hostgroups}
            return [
                {**host, **_prefixed("hostgroup_", groups[group])}
                for host in self.hosts
                for group in host["groups"]
                if group in groups
            ]
        if name == "servicesbyhostgroup":
            groups = {row["name"]: row for row in self.hostgroups}
            return [
                {**service, **_prefixed("hostgroup_", groups[group])}
                for service in self.services
                for group in service["host_groups"]
                if group in groups
            ]
        return None


def _prefixed(prefix: str, row: Row, *, skip: str = "") -> Row:
    return {prefix + key: value for key, value in row.items() if not (skip and key.startswith(skip))}


def build_snapshot(status_text: str, objects: Objects) -> Snapshot:
    """The tables from a status.dat text and the core's objects."""
    blocks = parse_status(status_text)
    info = next((f for k, f in blocks if k == "info"), {})
    program = next((f for k, f in blocks if k == "programstatus"), {})
    hosts: dict[str, Row] = {}
    services: list[Row] = []
    for kind, fields in blocks:
        if kind == "hoststatus":
            name = fields.get("host_name", "")
            definition = objects.hosts.get(name, {})
            row = _object_columns(fields, definition, objects)
            row |= {
                "name": name,
                "alias": definition.get("alias", name),
                "address": definition.get("address", name),
                "display_name": definition.get("display_name", name),
                "groups": objects.host_groups(name),
                "parents": _list(definition.get("parents")),
                "hard_state": row["last_hard_state"] if row["state_type"] == 0 else row["state"],
                "last_time_up": _int(fields.get("last_time_up")),
                "last_time_down": _int(fields.get("last_time_down")),
                "last_time_unreachable": _int(fields.get("last_time_unreachable")),
                "obsess_over_host": row["obsess"],
                "services": [],
            }
            hosts[name] = row
    for kind, fields in blocks:
        if kind == "servicestatus":
            host_name, description = fields.get("host_name", ""), fields.get("service_description", "")
            definition = objects.services.get((host_name, description), {})
            row = _object_columns(fields, definition, objects)
            row |= {
                "description": description,
                "display_name": definition.get("display_name", description),
                "groups": objects.service_groups(host_name, description),
                "last_time_ok": _int(fields.get("last_time_ok")),
                "last_time_warning": _int(fields.get("last_time_warning")),
                "last_time_critical": _int(fields.get("last_time_critical")),
                "last_time_unknown": _int(fields.get("last_time_unknown")),
                "obsess_over_service": row["obsess"],
            }
            services.append(row)
            if host_name in hosts:
                hosts[host_name]["services"].append(description)
    service_blocks = [fields for kind, fields in blocks if kind == "servicestatus"]
    by_host: dict[str, list[Row]] = {}
    for service, fields in zip(services, service_blocks, strict=True):
        by_host.setdefault(fields.get("host_name", ""), []).append(service)
    for name, host in hosts.items():
        own = by_host.get(name, [])
        checked = [s for s in own if s["has_been_checked"]]
        host |= {
            "num_services": len(own),
            "total_services": len(own),
            "num_services_ok": sum(1 for s in checked if s["state"] == 0),
            "num_services_warn": sum(1 for s in checked if s["state"] == 1),
            "num_services_crit": sum(1 for s in checked if s["state"] == 2),
            "num_services_unknown": sum(1 for s in checked if s["state"] == 3),
            "num_services_pending": sum(1 for s in own if not s["has_been_checked"]),
            "worst_service_state": _worst(s["state"] for s in checked),
        }
    # Each service carries its host's columns as host_... (TableServices adds TableHosts').
    service_rows = []
    for service, fields in zip(services, service_blocks, strict=True):
        host = hosts.get(fields.get("host_name", ""), {"name": fields.get("host_name", "")})
        service_rows.append({**_prefixed("host_", host), **service})
    host_rows = [hosts[name] for name in hosts]
    hostgroups = []
    for name, group in objects.hostgroups.items():
        members = _list(group.get("members"))
        member_hosts = [hosts[m] for m in members if m in hosts]
        member_services = [s for m in members for s in by_host.get(m, [])]
        checked_hosts = [h for h in member_hosts if h["has_been_checked"]]
        checked = [s for s in member_services if s["has_been_checked"]]
        hostgroups.append(
            {
                "name": name,
                "alias": group.get("alias", name),
                "members": members,
                "notes": group.get("notes", ""),
                "notes_url": group.get("notes_url", ""),
                "action_url": group.get("action_url", ""),
                "num_hosts": len(member_hosts),
                "num_hosts_up": sum(1 for h in checked_hosts if h["state"] == 0),
                "num_hosts_down": sum(1 for h in checked_hosts if h["state"] == 1),
                "num_hosts_unreach": sum(1 for h in checked_hosts if h["state"] == 2),
                "num_hosts_pending": sum(1 for h in member_hosts if not h["has_been_checked"]),
                "num_services": len(member_services),
                "num_services_ok": sum(1 for s in checked if s["state"] == 0),
                "num_services_warn": sum(1 for s in checked if s["state"] == 1),
                "num_services_crit": sum(1 for s in checked if s["state"] == 2),
                "num_services_unknown": sum(1 for s in checked if s["state"] == 3),
                "num_services_pending": sum(1 for s in member_services if not s["has_been_checked"]),
                "worst_host_state": max((h["state"] for h in checked_hosts), default=0),
                "worst_service_state": _worst(s["state"] for s in checked),
            }
        )
    servicegroups = []
    for name, group in objects.servicegroups.items():
        flat = _list(group.get("members"))
        pairs = [[h, s] for h, s in zip(flat[::2], flat[1::2], strict=False)]
        servicegroups.append(
            {
                "name": name,
                "alias": group.get("alias", name),
                "members": pairs,
                "notes": group.get("notes", ""),
                "notes_url": group.get("notes_url", ""),
                "action_url": group.get("action_url", ""),
                "num_services": len(pairs),
            }
        )
    service_index = {(r["host_name"], r["description"]): r for r in service_rows}
    comments: list[Row] = []
    downtimes: list[Row] = []
    for kind, fields in blocks:
        is_service = kind.startswith("service")
        if kind not in ("hostcomment", "servicecomment", "hostdowntime", "servicedowntime"):
            continue
        host = hosts.get(fields.get("host_name", ""), {})
        service = service_index.get((fields.get("host_name", ""), fields.get("service_description", "")), {})
        entry: Row = {
            "author": fields.get("author", ""),
            "entry_time": _int(fields.get("entry_time")),
            "is_service": int(is_service),
            "type": 2 if is_service else 1,
            **_prefixed("host_", host),
            **_prefixed("service_", service, skip="host_"),
        }
        if not is_service:
            entry["service_description"] = ""
        if kind.endswith("comment"):
            entry |= {
                "id": _int(fields.get("comment_id")),
                "comment": fields.get("comment_data", ""),
                "entry_type": _int(fields.get("entry_type")),
                "persistent": _int(fields.get("persistent")),
                "source": _int(fields.get("source")),
                "expires": _int(fields.get("expires")),
                "expire_time": _int(fields.get("expire_time")),
            }
            comments.append(entry)
        else:
            entry |= {
                "id": _int(fields.get("downtime_id")),
                "comment": fields.get("comment", ""),
                "start_time": _int(fields.get("start_time")),
                "end_time": _int(fields.get("end_time")),
                "fixed": _int(fields.get("fixed")),
                "duration": _int(fields.get("duration")),
                "triggered_by": _int(fields.get("triggered_by")),
            }
            downtimes.append(entry)
    for host in host_rows:
        host["comments"] = [
            c["id"] for c in comments if not c["is_service"] and c["host_name"] == host["name"]
        ]
        host["downtimes"] = [
            d["id"] for d in downtimes if not d["is_service"] and d["host_name"] == host["name"]
        ]
    for row in service_rows:
        key = (row["host_name"], row["description"])
        row["comments"] = [c["id"] for c in comments if (c["host_name"], c["service_description"]) == key]
        row["downtimes"] = [d["id"] for d in downtimes if (d["host_name"], d["service_description"]) == key]
    status_row = {
        "program_version": info.get("version", ""),
        "livestatus_version": LIVESTATUS_VERSION,
        "program_start": _int(program.get("program_start")),
        "nagios_pid": _int(program.get("nagios_pid")),
        "last_log_rotation": _int(program.get("last_log_rotation")),
        "last_command_check": _int(program.get("last_command_check")),
        "interval_length": 1,
        "num_hosts": len(host_rows),
        "num_services": len(service_rows),
        "enable_notifications": _int(program.get("enable_notifications")),
        "execute_service_checks": _int(program.get("active_service_checks_enabled")),
        "execute_host_checks": _int(program.get("active_host_checks_enabled")),
        "accept_passive_service_checks": _int(program.get("passive_service_checks_enabled")),
        "accept_passive_host_checks": _int(program.get("passive_host_checks_enabled")),
        "enable_event_handlers": _int(program.get("enable_event_handlers")),
        "obsess_over_services": _int(program.get("obsess_over_services")),
        "obsess_over_hosts": _int(program.get("obsess_over_hosts")),
        "check_service_freshness": _int(program.get("check_service_freshness")),
        "check_host_freshness": _int(program.get("check_host_freshness")),
        "enable_flap_detection": _int(program.get("enable_flap_detection")),
        "process_performance_data": _int(program.get("process_performance_data")),
        "check_external_commands": 1,
    }
    return Snapshot(
        status=[status_row] if program else [],
        hosts=host_rows,
        services=service_rows,
        hostgroups=hostgroups,
        servicegroups=servicegroups,
        comments=comments,
        downtimes=downtimes,
    )
