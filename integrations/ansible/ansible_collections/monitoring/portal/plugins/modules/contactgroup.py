#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: contactgroup
short_description: Declare a contact group in the monitoring portal (staff)
version_added: "1.1.0"
description:
  - Creates, changes or removes a Naemon contact group through the portal's REST API. Contact
    groups are staff's, so the task needs a staff token.
  - Only what differs is written; a second run reports no change. Options left out are left as
    they are. O(members) is compared as a set (order does not matter).
  - Supports check mode and diff mode.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  name:
    description: The group's name in Naemon.
    type: str
    required: true
  state:
    description: V(present) creates or updates, V(absent) removes the group.
    type: str
    choices: [present, absent]
    default: present
  alias:
    description: A longer display name.
    type: str
  members:
    description: The contacts in the group (the whole list; V([]) for none).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The DBA leads
  monitoring.portal.contactgroup:
    name: dba-leads
    alias: DBA leads
    members: [dba-oncall]
    api_token: "{{ vault_portal_staff_token }}"
    wait: true
"""

RETURN = r"""
object:
  description: The contact group as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"name": "dba-leads", "alias": "DBA leads", "members": ["dba-oncall"]}
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

FIELDS = {"alias": "str", "members": "set"}


def main():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        alias=dict(type="str"),
        members=dict(type="list", elements="str"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    sync_object(
        module,
        client,
        "registry/contactgroups/" + path(module.params["name"]),
        FIELDS,
        desired_from(module.params, FIELDS),
    )


if __name__ == "__main__":
    main()
