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
  - With O(rules), the task declares several rules at once, in order. With O(exclusive=true)
    they are your whole list (rules not listed are removed) and the list is replaced in one
    transaction through the portal's preferences document (C(/api/v1/preferences/export/)), where
    rules are matched by content, so unchanged rules keep their ids. Without O(exclusive), each
    listed rule is created or updated in place by its comment and the others are left alone.
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
    description: The rule's comment, which identifies it among your rules. Required unless O(rules) is given.
    type: str
    aliases: [name]
  rules:
    description:
      - Several rules, in order, each a mapping of the options above (O(action) required;
        O(comment), O(enabled), O(hosts), O(hostgroups), O(services), O(servicegroups),
        O(states), O(types), O(channels), O(days), O(start), O(end)), plus C(oncall_team).
        Criteria left out match anything.
      - Excludes O(comment) and the single rule's options.
    type: list
    elements: dict
  exclusive:
    description:
      - With O(rules), V(true) makes the list your whole list (others are removed, the order is
        the list's). V(false) creates or updates each listed rule by its comment (which each one
        then needs) and adds new ones last.
    type: bool
    default: false
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

- name: My whole list, declared (rules not listed are removed)
  monitoring.portal.notification_rule:
    exclusive: true
    rules:
      - comment: databases always
        action: notify
        hostgroups: [databases]
      - comment: quiet nights
        action: suppress
        channels: [sms]
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
rules:
  description: With O(rules), your whole list after the task (in check mode, as it would be).
  returned: when O(rules) is given
  type: list
  elements: dict
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


DOCUMENT_DEFAULTS = {"enabled": True, "comment": "", "start": "00:00", "end": "24:00", "oncall_team": ""}
DOCUMENT_KEYS = ("action", "comment", "enabled", *LISTS, "start", "end", "oncall_team")


def document_rule(rule):
    """A rule as the preferences document shows it: what differs from the defaults, lists normalised."""
    item = {}
    for key in DOCUMENT_KEYS:
        value = rule.get(key)
        if key in LISTS:
            if value:
                item[key] = normal_list(key, value) if isinstance(value, list) else value
        elif key == "action" or (value not in (None, "") and value != DOCUMENT_DEFAULTS[key]):
            item[key] = value
    # Unknown keys go to the portal as they are: its 400 names them (rules[1].colour).
    item.update({k: v for k, v in rule.items() if k not in DOCUMENT_KEYS})
    return item


def declare_rules(module, client):
    """O(rules): the list as declared, through the preferences document (one atomic PUT)."""
    p = module.params
    wanted = [document_rule(r) for r in p["rules"]]
    document = client.request("GET", "preferences/export/").data
    current = document.get("rules", [])
    if p["exclusive"]:
        new = wanted
    else:
        new = list(current)
        for index, rule in enumerate(wanted):
            if not rule.get("comment"):
                module.fail_json(msg=f"rules[{index}]: a comment is required unless exclusive is true.")
            at = next((i for i, r in enumerate(new) if r.get("comment") == rule["comment"]), None)
            if at is None:
                new.append(rule)
            else:
                new[at] = rule
    result = dict(changed=new != current, rules=new)
    if result["changed"]:
        result["diff"] = dict(before={"rules": current}, after={"rules": new})
        if not module.check_mode:
            body = dict(document, rules=new)
            result["rules"] = client.request("PUT", "preferences/export/", body=body).data["rules"]
    module.exit_json(**result)


def own_rules(client):
    """The caller's rules in order (staff see everyone's, so ask for one's own)."""
    username = client.request("GET", "preferences/profile/").data["user"]
    return client.list("preferences/rules/", query={"user": username})


def main():
    spec = dict(
        comment=dict(type="str", aliases=["name"]),
        rules=dict(type="list", elements="dict"),
        exclusive=dict(type="bool", default=False),
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
    single = ["comment", "action", "enabled", *LISTS, "start", "end", "position"]
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_one_of=[("comment", "rules")],
        mutually_exclusive=[("rules", option) for option in single],
    )
    p = module.params
    if p["rules"] is not None:
        try:
            declare_rules(module, client_from_module(module))
        except PortalError as exc:
            fail(module, exc)
    if p["exclusive"]:
        module.fail_json(msg="exclusive applies to rules: declare the whole list there.")
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
