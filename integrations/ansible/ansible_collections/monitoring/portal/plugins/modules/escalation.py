#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: escalation
short_description: Declare a host or service escalation in the monitoring portal
version_added: "1.1.0"
description:
  - Creates, changes or removes a Naemon host escalation (O(host)) or service escalation
    (O(host)/O(service)) through the portal's REST API. From the O(first_notification)-th
    notification on (to O(last_notification), 0 for no end), O(contacts) and O(contact_groups)
    are notified as well.
  - The portal addresses escalations by id; the task finds its escalation by O(host),
    O(service) and O(first_notification). Only what differs is written; a second run reports no
    change. Options left out are left as they are.
  - Supports check mode and diff mode.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  host:
    description: The escalated host (the host of the escalated service, with O(service)).
    type: str
    required: true
  service:
    description: The escalated service's description; left out, a host escalation.
    type: str
  first_notification:
    description: The notification number (1 is the first) from which it applies.
    type: int
    required: true
  state:
    description: V(present) creates or updates, V(absent) removes the escalation.
    type: str
    choices: [present, absent]
    default: present
  last_notification:
    description: The last notification number it applies to (0 for no last).
    type: int
  notification_interval:
    description: Minutes between escalated notifications (0 for only once).
    type: int
  escalation_period:
    description: The time period in which it applies (V("") always).
    type: str
  escalation_options:
    description: States in which it applies, letters of d,u,r (hosts) or w,u,c,r (services); V("") all.
    type: str
  contacts:
    description: Contacts notified as well (Naemon needs O(contacts) or O(contact_groups)).
    type: list
    elements: str
  contact_groups:
    description: Contact groups notified as well.
    type: list
    elements: str
notes:
  - The token's user must own the escalated host or service (through a team) or be staff.
"""

EXAMPLES = r"""
- name: From the third notification on, also tell the team leads
  monitoring.portal.escalation:
    host: db-01
    service: PostgreSQL
    first_notification: 3
    contact_groups: [dba-leads]
    wait: true
"""

RETURN = r"""
object:
  description: The escalation as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"id": 2, "host": "db-01", "first_notification": 3, "contact_groups": ["dba-leads"]}
changed_options:
  description: The options that were (or would be) written.
  returned: changed
  type: list
  elements: str
deployments:
  description: The deployments the change requested, with their state.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.monitoring.portal.plugins.module_utils.portal import (
    CONNECTION_SPEC,
    WAIT_SPEC,
    client_from_module,
    desired_from,
    sync_relation,
)

FIELDS = {
    "last_notification": "scalar",
    "notification_interval": "scalar",
    "escalation_period": "ref",
    "escalation_options": "options",
    "contacts": "set",
    "contact_groups": "set",
}


def main():
    spec = dict(
        host=dict(type="str", required=True),
        service=dict(type="str"),
        first_notification=dict(type="int", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        last_notification=dict(type="int"),
        notification_interval=dict(type="int"),
        escalation_period=dict(type="str"),
        escalation_options=dict(type="str"),
        contacts=dict(type="list", elements="str"),
        contact_groups=dict(type="list", elements="str"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    client = client_from_module(module)
    if p["service"]:
        collection = "registry/serviceescalations/"
        filters = dict(host=p["host"], service=p["service"])
        keys = dict(service=f"{p['host']}/{p['service']}")
    else:
        collection = "registry/hostescalations/"
        filters = keys = dict(host=p["host"])
    keys = dict(keys, first_notification=p["first_notification"])
    sync_relation(module, client, collection, filters, keys, FIELDS, desired_from(p, FIELDS))


if __name__ == "__main__":
    main()
