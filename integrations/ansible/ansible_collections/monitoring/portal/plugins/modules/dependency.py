#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: dependency
short_description: Declare a host or service dependency in the monitoring portal
version_added: "1.1.0"
description:
  - Creates, changes or removes a Naemon host dependency (O(host) on O(master_host)) or service
    dependency (O(host)/O(service) on O(master_host)/O(master_service)) through the portal's REST
    API. While the master is in the failure criteria's states, the dependent is not checked
    (O(execution_failure_criteria)) or does not notify (O(notification_failure_criteria)).
  - The portal addresses dependencies by id; the task finds its dependency by the dependent and
    the master. Only what differs is written; a second run reports no change. Options left out
    are left as they are.
  - Supports check mode and diff mode.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  host:
    description: The dependent host (the host of the dependent service, with O(service)).
    type: str
    required: true
  service:
    description: The dependent service's description; left out, a host dependency.
    type: str
  master_host:
    description: The master host; with O(service), default O(host).
    type: str
  master_service:
    description: The master service's description (required with O(service)).
    type: str
  state:
    description: V(present) creates or updates, V(absent) removes the dependency.
    type: str
    choices: [present, absent]
    default: present
  inherits_parent:
    description: Also depend on what the master depends on.
    type: bool
  execution_failure_criteria:
    description:
      - Master states in which the dependent is not checked, comma-separated letters of
        o,d,u,p (hosts) or o,w,u,c,p (services); V(n) never, V("") none.
    type: str
  notification_failure_criteria:
    description: Master states in which the dependent does not notify; letters as above.
    type: str
  dependency_period:
    description: The time period in which it applies (V("") always).
    type: str
notes:
  - The token's user must own the dependent host or service (through a team) or be staff.
"""

EXAMPLES = r"""
- name: No HTTP alerts from web-01 while its database is down
  monitoring.portal.dependency:
    host: web-01
    service: HTTP
    master_host: db-01
    master_service: PostgreSQL
    notification_failure_criteria: w,u,c
    wait: true
"""

RETURN = r"""
object:
  description: The dependency as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"id": 3, "host": "web-01", "master_host": "db-01", "notification_failure_criteria": "d,u"}
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
    "inherits_parent": "scalar",
    "execution_failure_criteria": "options",
    "notification_failure_criteria": "options",
    "dependency_period": "ref",
}


def main():
    spec = dict(
        host=dict(type="str", required=True),
        service=dict(type="str"),
        master_host=dict(type="str"),
        master_service=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        inherits_parent=dict(type="bool"),
        execution_failure_criteria=dict(type="str"),
        notification_failure_criteria=dict(type="str"),
        dependency_period=dict(type="str"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_together=[("service", "master_service")],
    )
    p = module.params
    client = client_from_module(module)
    if p["service"]:
        master_host = p["master_host"] or p["host"]
        collection = "registry/servicedependencies/"
        filters = dict(
            host=p["host"], service=p["service"], master_host=master_host, master_service=p["master_service"]
        )
        keys = dict(
            service=f"{p['host']}/{p['service']}", master_service=f"{master_host}/{p['master_service']}"
        )
    else:
        if not p["master_host"]:
            module.fail_json(msg="master_host is required for a host dependency (without service)")
        collection = "registry/hostdependencies/"
        filters = keys = dict(host=p["host"], master_host=p["master_host"])
    sync_relation(module, client, collection, filters, keys, FIELDS, desired_from(p, FIELDS))


if __name__ == "__main__":
    main()
