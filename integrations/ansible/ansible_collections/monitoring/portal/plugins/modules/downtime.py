#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: downtime
short_description: Schedule or remove a downtime through the monitoring portal
version_added: "1.0.0"
description:
  - Schedules a downtime for a host or one of its services on the Naemon node that monitors it,
    or removes it, through the portal's Livestatus API. Every action is recorded by the portal.
  - A downtime is identified by its O(host), O(service) and O(comment). With V(present), nothing
    is sent when the object already has a downtime with that comment, so running the task again
    changes nothing. The window of an existing downtime is not compared; to change it, remove the
    downtime and schedule it again (or use another comment).
  - Once a downtime has ended it no longer exists; a later run with V(present) schedules a new one.
  - Supports check mode and diff mode (the object's downtimes with this comment before and after).
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
options:
  host:
    description: The host.
    type: str
    required: true
  service:
    description: A service of the host; left out, the downtime is the host's.
    type: str
    default: ""
  comment:
    description: Why; also what identifies the downtime (one line).
    type: str
    required: true
  state:
    description: V(present) schedules the downtime if it does not exist, V(absent) removes every
      downtime of the object with this comment.
    type: str
    choices: [present, absent]
    default: present
  start:
    description: When it starts, ISO 8601 (V(2026-06-01T22:00:00+02:00)); default now.
    type: str
  end:
    description: When it ends, ISO 8601. A fixed downtime needs O(end) or O(duration).
    type: str
  duration:
    description:
      - Seconds. For a fixed downtime without O(end), it ends this long after O(start). For a
        flexible one (O(fixed=false)), how long it lasts once the object goes down between
        O(start) and O(end).
    type: int
  fixed:
    description: Fixed (from start to end) or flexible (starts when the object goes down).
    type: bool
    default: true
  node:
    description: The node to send to; default the node that monitors the host.
    type: str
    default: ""
  wait:
    description:
      - Return only when Livestatus lists the new downtime (or no longer lists a removed one).
    type: bool
    default: false
  wait_timeout:
    description: Seconds O(wait) waits before the task fails.
    type: int
    default: 60
notes:
  - The token's user must own the host (through a team) or be staff.
"""

EXAMPLES = r"""
- name: Two hours of maintenance on a database server
  monitoring.portal.downtime:
    host: db-01
    comment: "Kernel upgrade (CHG-1234)"
    duration: 7200
    wait: true

- name: A service downtime for a window
  monitoring.portal.downtime:
    host: web-01
    service: HTTP
    comment: "Certificate rollover"
    start: "2026-06-01T22:00:00+02:00"
    end: "2026-06-01T23:00:00+02:00"

- name: Maintenance is over
  monitoring.portal.downtime:
    host: db-01
    comment: "Kernel upgrade (CHG-1234)"
    state: absent
"""

RETURN = r"""
downtimes:
  description: The object's downtimes with this comment after the task (with O(wait), as Livestatus lists them).
  returned: always
  type: list
  elements: dict
  sample: [{"id": 7, "node": "master-1", "host": "db-01", "service": "", "comment": "Kernel upgrade (CHG-1234)"}]
actions:
  description: The portal's records of the commands sent (one per scheduled or removed downtime).
  returned: changed and not check mode
  type: list
  elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.monitoring.portal.plugins.module_utils.portal import (
    CONNECTION_SPEC,
    PortalError,
    client_from_module,
    fail,
    state_of,
)


def matching(client, p):
    """The object's downtimes with this comment, on every node that answered."""
    query = {"host": p["host"]}
    if p["service"]:
        query["service"] = p["service"]
    if p["node"]:
        query["node"] = p["node"]
    resp = client.request("GET", "livestatus/downtimes/", query=dict(query, limit=1000))
    data = resp.data or {}
    rows = [
        row
        for row in data.get("results", [])
        if row.get("host") == p["host"]
        and (row.get("service") or "") == p["service"]
        and row.get("comment") == p["comment"]
    ]
    return rows, data.get("unreachable") or []


def diff_of(before, after):
    """What ``--diff`` shows: the downtimes with this comment before and after the task."""
    return dict(before=dict(downtimes=state_of(before)), after=dict(downtimes=state_of(after)))


def send(client, kind, body):
    resp = client.request("POST", f"livestatus/actions/{kind}/", body=body, ok=(502,))
    if resp.status == 502:
        record = resp.data or {}
        raise PortalError(
            f"The node {record.get('node') or ''} did not take the command: "
            f"{record.get('error') or record.get('outcome') or 'unknown error'}",
            status=502,
            body=record,
        )
    return resp.data


def main():
    spec = dict(
        host=dict(type="str", required=True),
        service=dict(type="str", default=""),
        comment=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        start=dict(type="str"),
        end=dict(type="str"),
        duration=dict(type="int"),
        fixed=dict(type="bool", default=True),
        node=dict(type="str", default=""),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=60),
    )
    spec.update(CONNECTION_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    client = client_from_module(module)
    try:
        rows, unreachable = matching(client, p)
        if unreachable:
            names = ", ".join(f"{u.get('node')} ({u.get('error')})" for u in unreachable)
            module.warn(f"Some nodes did not answer, their downtimes are unknown: {names}")
        result = dict(changed=False, downtimes=rows)
        target = {"host": p["host"], "service": p["service"], "node": p["node"]}
        if p["state"] == "present":
            if rows:
                module.exit_json(**result)
            body = dict(target, comment=p["comment"], fixed=p["fixed"])
            for key in ("start", "end", "duration"):
                if p[key] is not None:
                    body[key] = p[key]
            result.update(changed=True, diff=diff_of([], [body]))
            if module.check_mode:
                module.exit_json(**result)
            result["actions"] = [send(client, "downtime", body)]
        else:
            if not rows:
                module.exit_json(**result)
            result.update(changed=True, diff=diff_of(rows, []))
            if module.check_mode:
                module.exit_json(**dict(result, downtimes=[]))
            result["actions"] = [
                send(client, "delete-downtime", dict(target, node=row["node"], downtime_id=row["id"]))
                for row in rows
            ]
        rows = []
        if p["wait"]:
            deadline = time.monotonic() + p["wait_timeout"]
            while True:
                rows, _ = matching(client, p)
                if bool(rows) == (p["state"] == "present"):
                    break
                if time.monotonic() >= deadline:
                    module.fail_json(
                        msg=f"The command was sent, but Livestatus did not show the change within "
                        f"{p['wait_timeout']}s.",
                        **result,
                    )
                time.sleep(0.5)
        result["downtimes"] = rows
        if p["state"] == "present" and rows:
            result["diff"] = diff_of([], rows)  # as Livestatus lists it (with its id and window)
        module.exit_json(**result)
    except PortalError as exc:
        fail(module, exc)


if __name__ == "__main__":
    main()
