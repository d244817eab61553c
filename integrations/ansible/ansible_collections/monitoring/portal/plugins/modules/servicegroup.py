#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: servicegroup
short_description: Declare a service group in the monitoring portal
version_added: "1.1.0"
description:
  - Creates, changes or removes a service group through the portal's REST API. Services join it
    through their C(servicegroups); the group is owned by a O(team).
  - Only what differs is written; a second run reports no change. Options left out are left as they are.
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
  team:
    description: The team that owns the group (one of your teams; V("") for none).
    type: str
"""

EXAMPLES = r"""
- name: The web team's front ends
  monitoring.portal.servicegroup:
    name: web-frontends
    alias: Web front ends
    team: web
    wait: true
"""

RETURN = r"""
object:
  description: The service group as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"name": "web-frontends", "alias": "Web front ends", "team": "web"}
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

FIELDS = {"alias": "str", "team": "ref"}


def main():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        alias=dict(type="str"),
        team=dict(type="str"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    sync_object(
        module,
        client,
        "registry/servicegroups/" + path(module.params["name"]),
        FIELDS,
        desired_from(module.params, FIELDS),
    )


if __name__ == "__main__":
    main()
