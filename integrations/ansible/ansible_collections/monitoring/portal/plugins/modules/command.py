#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: command
short_description: Declare a check or notification command in the monitoring portal (staff)
version_added: "1.1.0"
description:
  - Creates, changes or removes a Naemon command through the portal's REST API. Commands are
    staff's, so the task needs a staff token. The portal refuses a command line it cannot render
    safely, with a message naming the field.
  - Only what differs is written; a second run reports no change. Options left out are left as they are.
  - Supports check mode and diff mode.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  name:
    description: The command's name in Naemon.
    type: str
    required: true
  state:
    description: V(present) creates or updates, V(absent) removes the command (refused while something uses it).
    type: str
    choices: [present, absent]
    default: present
  alias:
    description: A longer display name.
    type: str
  command_line:
    description: The command line, with Naemon macros (V($HOSTADDRESS$), V($ARG1$), ...). Required to create.
    type: str
  channel:
    description: For a notification command, the channel it sends on (V(email), V(sms), ...); V("") for none.
    type: str
  free_form_args:
    description:
      - Numbers of the V($ARGn$) whose value splits into words at plain spaces (order does not matter).
    type: list
    elements: int
"""

EXAMPLES = r"""
- name: SMS notifications
  monitoring.portal.command:
    name: notify-by-sms
    command_line: /usr/local/bin/sms $CONTACTPAGER$
    channel: sms
    api_token: "{{ vault_portal_staff_token }}"
    wait: true
"""

RETURN = r"""
object:
  description: The command as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"name": "notify-by-sms", "command_line": "/usr/local/bin/sms $CONTACTPAGER$", "channel": "sms"}
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

FIELDS = {"alias": "str", "command_line": "str", "channel": "str", "free_form_args": "set"}


def main():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        alias=dict(type="str"),
        command_line=dict(type="str"),
        channel=dict(type="str"),
        free_form_args=dict(type="list", elements="int"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    sync_object(
        module,
        client,
        "registry/commands/" + path(module.params["name"]),
        FIELDS,
        desired_from(module.params, FIELDS),
    )


if __name__ == "__main__":
    main()
