#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: hostgroup
short_description: Declare a host group in the monitoring portal
version_added: "1.0.0"
description:
  - Creates, changes or removes a host group through the portal's REST API. A host group gives
    its hosts an owner (its O(team)) and, for staff, a place (the poller O(node) that monitors them).
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
    description:
      - V(present) creates or updates, V(absent) removes the group (refused while it is the only
        group of some service).
    type: str
    choices: [present, absent]
    default: present
  alias:
    description: A longer display name.
    type: str
  team:
    description: The team that owns the group and, through it, its hosts (one of your teams).
    type: str
  node:
    description:
      - The poller that monitors the group's hosts (V("") for the masters only). Staff only.
    type: str
"""

EXAMPLES = r"""
- name: The web team's servers
  monitoring.portal.hostgroup:
    name: web
    alias: Web servers
    team: web
    wait: true
"""

RETURN = r"""
object:
  description: The host group as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"name": "web", "alias": "Web servers", "team": "web", "node": null}
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

FIELDS = {"alias": "str", "team": "ref", "node": "ref"}


def main():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        alias=dict(type="str"),
        team=dict(type="str"),
        node=dict(type="str"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    sync_object(
        module,
        client,
        "registry/hostgroups/" + path(module.params["name"]),
        FIELDS,
        desired_from(module.params, FIELDS),
    )


if __name__ == "__main__":
    main()
