#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: service
short_description: Declare one monitored service in the monitoring portal
version_added: "1.0.0"
description:
  - Creates, changes or removes one service, either on one host (O(host)) or on every host of a
    host group (O(hostgroup)), through the portal's REST API.
  - Only what differs from the portal's current state is written; a second run reports no change.
    Options left out are left as they are.
  - Supports check mode and diff mode.
  - To declare all of a host's services at once (and remove the others), use the O(monitoring.portal.host#module:services)
    option of M(monitoring.portal.host) instead.
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  description:
    description: The service's name (spaces and C(/) allowed).
    type: str
    required: true
    aliases: [name]
  host:
    description: The host the service runs on. Exactly one of O(host) and O(hostgroup).
    type: str
  hostgroup:
    description:
      - A host group whose hosts all get this service. Exactly one of O(host) and O(hostgroup).
    type: str
  hostgroups:
    description:
      - For a host-group service, every group it applies to (must include O(hostgroup)).
    type: list
    elements: str
  state:
    description: V(present) creates or updates, V(absent) removes.
    type: str
    choices: [present, absent]
    default: present
  templates:
    description: Service templates, in order (the first listed wins).
    type: list
    elements: str
  servicegroups:
    description: Service groups.
    type: list
    elements: str
  contacts:
    description: Contacts.
    type: list
    elements: str
  contact_groups:
    description: Contact groups.
    type: list
    elements: str
  check_command:
    description: Check command name (V("") to inherit from the templates).
    type: str
  check_command_args:
    description: Values of C($ARG1$), C($ARG2$), ... (no C(!), C(;) or C($)).
    type: list
    elements: str
  check_interval:
    description: Minutes between regular checks.
    type: int
  retry_interval:
    description: Minutes between re-checks.
    type: int
  max_check_attempts:
    description: Checks before a hard state.
    type: int
  check_period:
    description: Time period for checks.
    type: str
  notification_period:
    description: Time period for notifications.
    type: str
  notification_options:
    description: Comma-separated letters, for example V(w,c,r).
    type: str
  notification_interval:
    description: Minutes between repeated notifications.
    type: int
  active_checks_enabled:
    description: Whether Naemon runs active checks.
    type: bool
  passive_checks_enabled:
    description: Whether Naemon accepts passive results.
    type: bool
  notifications_enabled:
    description: Whether Naemon notifies about the service.
    type: bool
  custom_variables:
    description: Custom variables (names start with C(_); upper-cased as Naemon does).
    type: dict
  notes:
    description: Free text.
    type: str
seealso:
  - module: monitoring.portal.host
"""

EXAMPLES = r"""
- name: Check HTTPS on one host
  monitoring.portal.service:
    host: web-01
    description: HTTPS
    templates: [http-service]
    check_command: check-https
    check_command_args: ["/healthz"]
    wait: true

- name: Check the disk of every database server
  monitoring.portal.service:
    hostgroup: databases
    description: Disk /var/lib/postgresql
    templates: [disk-service]

- name: Remove a service
  monitoring.portal.service:
    host: web-01
    description: Old check
    state: absent
"""

RETURN = r"""
object:
  description: The service as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"description": "HTTPS", "host": "web-01", "templates": ["http-service"]}
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
    PortalError,
    client_from_module,
    desired_from,
    fail,
    path,
    sync_object,
)

FIELDS = {
    "templates": "list",
    "servicegroups": "set",
    "contacts": "set",
    "contact_groups": "set",
    "hostgroups": "set",
    "check_command": "ref",
    "check_command_args": "list",
    "check_interval": "scalar",
    "retry_interval": "scalar",
    "max_check_attempts": "scalar",
    "check_period": "ref",
    "notification_period": "ref",
    "notification_options": "options",
    "notification_interval": "scalar",
    "active_checks_enabled": "scalar",
    "passive_checks_enabled": "scalar",
    "notifications_enabled": "scalar",
    "custom_variables": "vars",
    "notes": "str",
}


def main():
    spec = dict(
        description=dict(type="str", required=True, aliases=["name"]),
        host=dict(type="str"),
        hostgroup=dict(type="str"),
        hostgroups=dict(type="list", elements="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        templates=dict(type="list", elements="str"),
        servicegroups=dict(type="list", elements="str"),
        contacts=dict(type="list", elements="str"),
        contact_groups=dict(type="list", elements="str"),
        check_command=dict(type="str"),
        check_command_args=dict(type="list", elements="str"),
        check_interval=dict(type="int"),
        retry_interval=dict(type="int"),
        max_check_attempts=dict(type="int"),
        check_period=dict(type="str"),
        notification_period=dict(type="str"),
        notification_options=dict(type="str"),
        notification_interval=dict(type="int"),
        active_checks_enabled=dict(type="bool"),
        passive_checks_enabled=dict(type="bool"),
        notifications_enabled=dict(type="bool"),
        custom_variables=dict(type="dict"),
        notes=dict(type="str"),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        mutually_exclusive=[("host", "hostgroup"), ("host", "hostgroups")],
        required_one_of=[("host", "hostgroup")],
    )
    p = module.params
    if p["host"] is not None:
        parent = "registry/hosts/" + path(p["host"])
    else:
        parent = "registry/hostgroups/" + path(p["hostgroup"])
    client = client_from_module(module)
    try:
        if client.get(parent) is None:
            if p["state"] == "absent":
                module.exit_json(changed=False, deployments=[], object=None)
            what = f"host {p['host']}" if p["host"] is not None else f"host group {p['hostgroup']}"
            module.fail_json(msg=f"The {what} does not exist in the portal: declare it first.")
    except PortalError as exc:
        fail(module, exc)
    sync_object(
        module,
        client,
        parent + "services/" + path(p["description"]),
        FIELDS,
        desired_from(p, FIELDS),
    )


if __name__ == "__main__":
    main()
