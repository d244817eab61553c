#!/usr/bin/python
# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
module: host
short_description: Declare a monitored host (and its services) in the monitoring portal
version_added: "1.0.0"
description:
  - Creates, changes or removes a host in the portal's registry through its REST API. The portal
    renders the change into Naemon config, verifies it and reloads the Naemon nodes.
  - Only what differs from the portal's current state is written, so running the task again
    reports no change. Options left out are left as they are in the portal (set a list to V([])
    or a string to V("") to clear it).
  - Supports check mode and diff mode (the host before and after).
author: Monitoring portal authors
extends_documentation_fragment:
  - monitoring.portal.portal
  - monitoring.portal.portal.WAIT
options:
  name:
    description:
      - The host's name in Naemon (no white space, none of C(`~!$%^&*|'"<>?,()=;)).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the host, V(absent) removes it with its services.
    type: str
    choices: [present, absent]
    default: present
  address:
    description: The host's address (name or IP) that checks use.
    type: str
  alias:
    description: A longer display name.
    type: str
  team:
    description:
      - The team that owns the host. Without staff rights, the host must belong to one of your
        teams after the change (through O(team) or a host group of your team).
    type: str
  templates:
    description: Host templates, in order (the first listed wins, as Naemon's C(use)).
    type: list
    elements: str
  hostgroups:
    description: Host groups the host belongs to.
    type: list
    elements: str
  parents:
    description: Parent hosts.
    type: list
    elements: str
  contacts:
    description: Contacts notified about the host.
    type: list
    elements: str
  contact_groups:
    description: Contact groups notified about the host.
    type: list
    elements: str
  check_command:
    description: Name of the check command (V("") to inherit from the templates).
    type: str
  check_command_args:
    description: Values of C($ARG1$), C($ARG2$), ... (no C(!), C(;) or C($)).
    type: list
    elements: str
  check_interval:
    description: Minutes between regular checks.
    type: int
  retry_interval:
    description: Minutes between re-checks of a problem.
    type: int
  max_check_attempts:
    description: Checks before a problem becomes a hard state.
    type: int
  check_period:
    description: Time period for checks.
    type: str
  notification_period:
    description: Time period for notifications.
    type: str
  notification_options:
    description: Comma-separated letters, for example V(d,u,r).
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
    description: Whether Naemon notifies about the host.
    type: bool
  custom_variables:
    description:
      - 'Custom variables, for example V({"_RACK": "B12"}). Names start with C(_) and are
        upper-cased, as Naemon does.'
    type: dict
  notes:
    description: Free text shown with the host.
    type: str
  services:
    description:
      - The host's services. When given (even V([])), the host has exactly these services
        afterwards; services not listed are removed. Left out, the services are left alone
        (manage them one by one with M(monitoring.portal.service)).
      - Within a listed service, options left out keep their current value.
    type: list
    elements: dict
    suboptions:
      description:
        description: The service's name on this host (spaces allowed).
        type: str
        required: true
      templates:
        description: Service templates, in order.
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
        description: Check command name.
        type: str
      check_command_args:
        description: Values of C($ARG1$), C($ARG2$), ...
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
      notification_options:
        description: Comma-separated letters, for example V(w,c,r).
        type: str
      notifications_enabled:
        description: Whether Naemon notifies about the service.
        type: bool
      custom_variables:
        description: Custom variables (names start with C(_)).
        type: dict
      notes:
        description: Free text.
        type: str
  lease_seconds:
    description:
      - Makes the host short-lived. The portal removes it (and deploys the removal) when the lease
        runs out. Renew it by running the task again.
      - The lease is renewed when less than O(lease_renew_below) seconds remain, so that frequent
        runs do not report a change every time. V(0) removes the lease.
      - Left out, an existing lease is left as it is.
    type: int
  lease_renew_below:
    description:
      - Renew the lease only when fewer seconds than this remain. Default half of O(lease_seconds);
        set it to O(lease_seconds) to renew on every run.
    type: int
  adopt:
    description:
      - Register a host that a Naemon node already monitors outside the portal (from the site's
        own config files). Without it, the portal refuses such a name with an error naming the
        node. Needs a staff token; others are refused even when no node monitors the name.
      - Only sent when the task creates the host. Once the host is in the portal, it changes
        nothing and reports no change.
      - Then remove the site's own definition of the host from that node; until then the node's
        verifier refuses the duplicate and the host does not deploy there.
    type: bool
    default: false
notes:
  - The token's user must be allowed to change the host (a member of its team, or staff).
  - Renaming is not supported; remove the old host and add the new one.
seealso:
  - module: monitoring.portal.service
  - module: monitoring.portal.hostgroup
"""

EXAMPLES = r"""
- name: A web server with two services, confirmed by the Naemon nodes
  monitoring.portal.host:
    name: web-01
    address: 192.0.2.10
    team: web
    templates: [linux-server]
    hostgroups: [web]
    custom_variables:
      _RACK: B12
    services:
      - description: HTTP
        templates: [http-service]
      - description: Disk /var
        templates: [disk-service]
        check_command_args: ["/var", "90%"]
    wait: true

- name: A CI runner that disappears by itself after an hour unless renewed
  monitoring.portal.host:
    name: ci-runner-17
    address: 192.0.2.77
    team: ci
    templates: [ephemeral]
    lease_seconds: 3600

- name: Take over a host that the poller already monitors from the site's own config (staff)
  monitoring.portal.host:
    name: db-07
    address: 192.0.2.57
    team: databases
    templates: [linux-server]
    hostgroups: [databases]
    adopt: true
    api_token: "{{ vault_portal_staff_token }}"
    wait: true

- name: Remove a host
  monitoring.portal.host:
    name: old-web-03
    state: absent
    wait: true
"""

RETURN = r"""
object:
  description: The host as the portal has it after the task (in check mode, as it would be).
  returned: success, when O(state=present)
  type: dict
  sample: {"name": "web-01", "address": "192.0.2.10", "team": "web", "hostgroups": ["web"]}
changed_options:
  description: The options that were (or in check mode would be) written.
  returned: changed
  type: list
  elements: str
  sample: ["address", "services"]
deployments:
  description:
    - The deployments the change requested, one per affected Naemon node, with their state
      (V(confirmed), V(skipped), or V(pending) and so on without O(wait)).
  returned: always
  type: list
  elements: dict
  sample: [{"id": 42, "node": "master-1", "state": "confirmed", "url": "https://portal.example.org/api/v1/registry/deployments/42/"}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.monitoring.portal.plugins.module_utils.portal import (
    CONNECTION_SPEC,
    WAIT_SPEC,
    client_from_module,
    desired_from,
    path,
    remaining_lease,
    sync_object,
)

CHECK_FIELDS = {
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
HOST_FIELDS = dict(
    CHECK_FIELDS,
    address="str",
    alias="str",
    team="ref",
    templates="list",
    hostgroups="set",
    parents="set",
    contacts="set",
    contact_groups="set",
)
SERVICE_FIELDS = dict(
    CHECK_FIELDS,
    templates="list",
    servicegroups="set",
    contacts="set",
    contact_groups="set",
)

SERVICE_OPTIONS = dict(
    description=dict(type="str", required=True),
    templates=dict(type="list", elements="str"),
    servicegroups=dict(type="list", elements="str"),
    contacts=dict(type="list", elements="str"),
    contact_groups=dict(type="list", elements="str"),
    check_command=dict(type="str"),
    check_command_args=dict(type="list", elements="str"),
    check_interval=dict(type="int"),
    retry_interval=dict(type="int"),
    max_check_attempts=dict(type="int"),
    notification_options=dict(type="str"),
    notifications_enabled=dict(type="bool"),
    custom_variables=dict(type="dict"),
    notes=dict(type="str"),
)


def argument_spec():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        address=dict(type="str"),
        alias=dict(type="str"),
        team=dict(type="str"),
        templates=dict(type="list", elements="str"),
        hostgroups=dict(type="list", elements="str"),
        parents=dict(type="list", elements="str"),
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
        services=dict(type="list", elements="dict", options=SERVICE_OPTIONS),
        lease_seconds=dict(type="int", no_log=False),
        lease_renew_below=dict(type="int", no_log=False),
        adopt=dict(type="bool", default=False),
    )
    spec.update(CONNECTION_SPEC)
    spec.update(WAIT_SPEC)
    return spec


def lease_body(module, current):
    """``{"lease_seconds": …}`` when the lease must be set, renewed or removed, else ``{}``."""
    seconds = module.params["lease_seconds"]
    if seconds is None:
        return {}
    remaining = remaining_lease(current.get("expires_at")) if current else None
    if seconds == 0:
        return {"lease_seconds": None} if remaining is not None else {}
    below = module.params["lease_renew_below"]
    if below is None:
        below = seconds // 2
    if remaining is None or remaining < below:
        return {"lease_seconds": seconds}
    return {}


def adopt_body(module, current):
    """``{"adopt": true}`` when the task creates a host it adopts, else ``{}``.

    ``adopt`` is write-only and only matters to a new name: sent on a PATCH too it would
    make every run a change.
    """
    return {"adopt": True} if module.params["adopt"] and current is None else {}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if (module.params["lease_seconds"] or 0) < 0:
        module.fail_json(msg="lease_seconds must be 0 (no lease) or a number of seconds.")
    client = client_from_module(module)
    sync_object(
        module,
        client,
        "registry/hosts/" + path(module.params["name"]),
        HOST_FIELDS,
        desired_from(module.params, HOST_FIELDS),
        extra_body=lambda current: dict(lease_body(module, current), **adopt_body(module, current)),
        nested=("services", "description", SERVICE_FIELDS),
    )


if __name__ == "__main__":
    main()
