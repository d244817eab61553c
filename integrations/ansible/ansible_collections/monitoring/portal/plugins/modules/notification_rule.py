#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: notification_rule
short_description: Manage your own notification rules in the monitoring portal (preferences as code)
version_added: "1.0.0"
description:
  - Creates, changes or removes one of the token user's notification rules. Rules form an ordered
    list per user; the first enabled rule that matches a notification decides whether it is sent
    (V(notify)) or dropped (V(suppress)); when none matches, the user's default applies.
  - A rule is identified by its O(comment), which must be unique among your rules (the task fails
    if several of your rules have that comment).
  - Only what differs is written; a second run reports no change. Criteria left out are left as
    they are on an existing rule (set a list to V([]) to match anything); a new rule gets the
    portal's defaults (empty lists match anything, the whole day).
  - Supports check mode and diff mode.
  - The token's user is always the owner; nobody can change another user's rules, not even staff.
  - There is no C(wait) option, unlike the registry modules. A rule change deploys no Naemon
    config and is verified by no core. Each node's worker rewrites the node's preferences
    snapshot within seconds, without a Naemon reload, and the notify-filter reads it on the next
    notification. The portal records no deployment for it, so there is nothing a task could wait
    for; the rule applies once the task has returned and the snapshot has been rewritten.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
options:
  comment:
    description: The rule's comment, which identifies it among your rules.
    type: str
    required: true
    aliases: [name]
  state:
    description: V(present) creates or updates the rule, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  action:
    description: What a matching rule does. Required to create a rule.
    type: str
    choices: [notify, suppress]
  enabled:
    description: A disabled rule is kept but never matches.
    type: bool
  hosts:
    description: Host names or globs (V(web-*)); empty matches every host.
    type: list
    elements: str
  hostgroups:
    description: Host group names or globs.
    type: list
    elements: str
  services:
    description: Service descriptions or globs; only service notifications match.
    type: list
    elements: str
  servicegroups:
    description: Service group names or globs; only service notifications match.
    type: list
    elements: str
  states:
    description: Host states (V(UP), V(DOWN), V(UNREACHABLE)) and service states (V(OK), V(WARNING), V(CRITICAL), V(UNKNOWN)).
    type: list
    elements: str
  types:
    description: Notification types, for example V(PROBLEM), V(RECOVERY), V(ACKNOWLEDGEMENT).
    type: list
    elements: str
  channels:
    description: Channels of notification commands (V(email), V(sms), ...).
    type: list
    elements: str
  days:
    description: Days the time window applies (V(mon) ... V(sun)); empty every day.
    type: list
    elements: str
  start:
    description: Start of the time window, V(HH:MM) in your time zone (default V(00:00)).
    type: str
  end:
    description: End of the time window, V(HH:MM); V(24:00) is the end of the day.
    type: str
  position:
    description:
      - Where the rule stands in your list. V(first) and V(last) move it there (if it is not
        there already). Left out, a new rule is added last and an existing one stays where it is.
    type: str
    choices: [first, last]
"""

EXAMPLES = r"""
- name: No SMS at night for warnings
  monitoring.portal.notification_rule:
    comment: quiet nights
    action: suppress
    channels: [sms]
    states: [WARNING]
    start: "22:00"
    end: "07:00"

- name: Always page me for the databases, before any other rule
  monitoring.portal.notification_rule:
    comment: databases always
    action: notify
    hostgroups: [databases]
    position: first
"""

RETURN = r"""
rule:
  description: The rule after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"id": 12, "comment": "quiet nights", "action": "suppress", "channels": ["sms"], "states": ["WARNING"]}
order:
  description: The comments of your rules in order, when O(position) is given.
  returned: when O(position) is given
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.monitoring.portal.plugins.module_utils.portal import (
    CONNECTION_SPEC,
    PortalError,
    client_from_module,
    fail,
    path,
    state_of,
)

LISTS = ("hosts", "hostgroups", "services", "servicegroups", "states", "types", "channels", "days")
SCALARS = ("action", "enabled", "start", "end")


def normal_list(key, values):
    """As the portal stores it: states and types upper-case, days lower-case, no duplicates."""
    out = []
    for value in values or []:
        if key in ("states", "types"):
            value = value.upper()
        elif key == "days":
            value = value.lower()
        if value not in out:
            out.append(value)
    return out


def wanted_of(p):
    wanted = {}
    for key in SCALARS:
        if p[key] is not None:
            wanted[key] = p[key]
    for key in LISTS:
        if p[key] is not None:
            wanted[key] = normal_list(key, p[key])
    return wanted


def differs(current, wanted):
    changed = []
    for key, value in wanted.items():
        if key in LISTS:
            if sorted(value) != sorted(normal_list(key, current.get(key))):
                changed.append(key)
        elif value != current.get(key):
            changed.append(key)
    return changed


def own_rules(client):
    """The caller's rules in order (staff see everyone's, so ask for one's own)."""
    username = client.request("GET", "preferences/profile/").data["user"]
    return client.list("preferences/rules/", query={"user": username})


def main():
    spec = dict(
        comment=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        action=dict(type="str", choices=["notify", "suppress"]),
        enabled=dict(type="bool"),
        hosts=dict(type="list", elements="str"),
        hostgroups=dict(type="list", elements="str"),
        services=dict(type="list", elements="str"),
        servicegroups=dict(type="list", elements="str"),
        states=dict(type="list", elements="str"),
        types=dict(type="list", elements="str"),
        channels=dict(type="list", elements="str"),
        days=dict(type="list", elements="str"),
        start=dict(type="str"),
        end=dict(type="str"),
        position=dict(type="str", choices=["first", "last"]),
    )
    spec.update(CONNECTION_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    if not p["comment"].strip():
        module.fail_json(msg="comment must not be empty: it identifies the rule.")
    client = client_from_module(module)
    try:
        rules = own_rules(client)
        same = [r for r in rules if r.get("comment") == p["comment"]]
        if len(same) > 1:
            ids = ", ".join(str(r["id"]) for r in same)
            module.fail_json(
                msg=f"You have {len(same)} rules with the comment {p['comment']!r} (ids {ids}); "
                "give them distinct comments so that a task can tell them apart."
            )
        current = same[0] if same else None
        result = dict(changed=False)

        if p["state"] == "absent":
            if current is not None:
                result.update(changed=True, diff=dict(before=state_of(current), after={}))
                if not module.check_mode:
                    client.request("DELETE", "preferences/rules/" + path(current["id"]))
            module.exit_json(**result, rule=None)

        wanted = wanted_of(p)
        if current is None:
            if "action" not in wanted:
                module.fail_json(msg="action (notify or suppress) is required to create a rule.")
            body = dict(wanted, comment=p["comment"])
            result.update(changed=True, diff=dict(before={}, after=body))
            rule = body
            if not module.check_mode:
                rule = client.request("POST", "preferences/rules/", body=body).data
        else:
            changed = differs(current, wanted)
            rule = dict(current)
            if changed:
                body = {k: wanted[k] for k in changed}
                rule.update(body)
                result.update(
                    changed=True,
                    changed_options=sorted(changed),
                    diff=dict(before=state_of(current), after=state_of(rule)),
                )
                if not module.check_mode:
                    rule = client.request("PATCH", "preferences/rules/" + path(current["id"]), body=body).data

        if p["position"]:
            mine = rule.get("id")  # None for a new rule in check mode
            order = [r["id"] for r in rules] + ([mine] if current is None else [])
            others = [i for i in order if i != mine]
            new_order = [mine, *others] if p["position"] == "first" else [*others, mine]
            if new_order != order:
                result["changed"] = True
                if not module.check_mode:
                    client.request("POST", "preferences/rules/reorder/", body={"ids": new_order})
            comments = {r["id"]: r.get("comment") for r in rules}
            comments[mine] = p["comment"]
            result["order"] = [comments[i] for i in new_order]
        module.exit_json(**result, rule=state_of(rule))
    except PortalError as exc:
        fail(module, exc)


if __name__ == "__main__":
    main()
