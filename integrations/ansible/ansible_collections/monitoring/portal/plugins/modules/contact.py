#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: contact
short_description: Declare a Naemon contact in the monitoring portal (staff)
version_added: "1.1.0"
description:
  - Creates, changes or removes a contact through the portal's REST API. Contacts are staff's,
    so the task needs a staff token. A contact linked to a portal O(user) is filtered by that
    user's notification rules.
  - Naemon refuses a contact without notification commands, so a new contact needs
    O(host_notification_commands) and O(service_notification_commands).
  - Only what differs is written; a second run reports no change. Options left out are left as
    they are. Command lists are compared as sets (order does not matter).
  - Supports check mode and diff mode.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  name:
    description: The contact's name in Naemon.
    type: str
    required: true
  state:
    description: V(present) creates or updates, V(absent) removes the contact.
    type: str
    choices: [present, absent]
    default: present
  alias:
    description: A longer display name.
    type: str
  user:
    description: The portal user it is (V("") for none), whose notification rules apply.
    type: str
  team:
    description: The team it belongs to (V("") for none).
    type: str
  email:
    description: E-mail address (C($CONTACTEMAIL$)).
    type: str
  pager:
    description: Pager number or address (C($CONTACTPAGER$)).
    type: str
  host_notification_period:
    description: Time period for host notifications (V("") for the default).
    type: str
  service_notification_period:
    description: Time period for service notifications (V("") for the default).
    type: str
  host_notification_options:
    description: Comma-separated letters of d,u,r,f,s (V(n) for none).
    type: str
  service_notification_options:
    description: Comma-separated letters of w,u,c,r,f,s (V(n) for none).
    type: str
  host_notification_commands:
    description: Commands that send host notifications.
    type: list
    elements: str
  service_notification_commands:
    description: Commands that send service notifications.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The DBA on call, by SMS
  monitoring.portal.contact:
    name: dba-oncall
    pager: "+49 170 0000000"
    team: databases
    host_notification_commands: [notify-by-sms]
    service_notification_commands: [notify-by-sms]
    api_token: "{{ vault_portal_staff_token }}"
    wait: true
"""

RETURN = r"""
object:
  description: The contact as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"name": "dba-oncall", "pager": "+49 170 0000000", "host_notification_commands": ["notify-by-sms"]}
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
    path,
    sync_object,
)

FIELDS = {
    "alias": "str",
    "user": "ref",
    "team": "ref",
    "email": "str",
    "pager": "str",
    "host_notification_period": "ref",
    "service_notification_period": "ref",
    "host_notification_options": "options",
    "service_notification_options": "options",
    "host_notification_commands": "set",
    "service_notification_commands": "set",
}


def main():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        host_notification_commands=dict(type="list", elements="str"),
        service_notification_commands=dict(type="list", elements="str"),
    )
    for key in FIELDS:
        spec.setdefault(key, dict(type="str"))
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    sync_object(
        module,
        client,
        "registry/contacts/" + path(module.params["name"]),
        FIELDS,
        desired_from(module.params, FIELDS),
    )


if __name__ == "__main__":
    main()
