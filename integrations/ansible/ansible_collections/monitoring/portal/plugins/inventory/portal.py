# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)

DOCUMENTATION = r"""
name: portal
short_description: The monitoring portal's hosts as an Ansible inventory
version_added: "1.0.0"
description:
  - Reads the hosts of the portal's registry through its REST API.
  - Groups them by host group (C(hostgroup_<name>)) and by owning team (C(team_<name>), for the
    host's own team and the teams of its host groups). Names are made safe for Ansible (C(-)
    becomes C(_)).
  - Sets C(ansible_host) to the host's address and turns its custom variables into host variables
    (C(_RACK) becomes C(rack), C(_ANSIBLE_USER) becomes C(ansible_user)). The portal's view of the
    host is in C(portal_*) variables.
  - The configuration file's name must end in C(portal.yml) or C(portal.yaml).
author: Monitoring portal authors
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin; it makes the file this plugin's configuration.
    type: str
    required: true
    choices: [monitoring.portal.portal]
  url:
    description: Base URL of the portal. C(/api/v1) is added.
    type: str
    env:
      - name: PORTAL_URL
  api_token:
    description: A personal API token (reading needs no particular rights).
    type: str
    env:
      - name: PORTAL_API_TOKEN
  validate_certs:
    description: Whether to check the portal's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 30
  hostgroups:
    description: Only hosts in one of these host groups (default every host).
    type: list
    elements: str
    default: []
  hostgroup_prefix:
    description: Prefix of the groups made from host groups.
    type: str
    default: hostgroup_
  team_prefix:
    description: Prefix of the groups made from teams.
    type: str
    default: team_
  custom_variables:
    description: Whether custom variables become host variables (they are always in C(portal_custom_variables)).
    type: bool
    default: true
"""

EXAMPLES = r"""
# inventory.portal.yml; PORTAL_URL and PORTAL_API_TOKEN from the environment
plugin: monitoring.portal.portal

# Only the web servers, with an extra group per rack
plugin: monitoring.portal.portal
url: https://portal.example.org
hostgroups: [web]
keyed_groups:
  - key: rack
    prefix: rack
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible_collections.monitoring.portal.plugins.module_utils.portal import PortalClient, PortalError

_NOT_A_VARIABLE = re.compile(r"[^A-Za-z0-9_]")


def variable_name(custom):
    """``_RACK`` → ``rack``; ``_ANSIBLE-PORT`` → ``ansible_port``."""
    return _NOT_A_VARIABLE.sub("_", custom.lstrip("_").lower())


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "monitoring.portal.portal"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("portal.yml", "portal.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            client = PortalClient(
                self.get_option("url"),
                self.get_option("api_token"),
                self.get_option("validate_certs"),
                self.get_option("timeout"),
            )
            hosts = client.list("registry/hosts/")
            teams_of_group = {g["name"]: g.get("team") for g in client.list("registry/hostgroups/")}
        except PortalError as exc:
            raise AnsibleError(f"monitoring.portal inventory: {exc.message}") from None
        wanted_groups = set(self.get_option("hostgroups") or [])
        for host in hosts:
            groups = host.get("hostgroups") or []
            if wanted_groups and not wanted_groups & set(groups):
                continue
            self._add_host(host, groups, teams_of_group)

    def _group(self, prefix, name):
        group = self._sanitize_group_name(prefix + name)
        return self.inventory.add_group(group)

    def _add_host(self, host, groups, teams_of_group):
        name = host["name"]
        self.inventory.add_host(name)
        teams = sorted({t for t in [host.get("team"), *(teams_of_group.get(g) for g in groups)] if t})
        for group in groups:
            self.inventory.add_child(self._group(self.get_option("hostgroup_prefix"), group), name)
        for team in teams:
            self.inventory.add_child(self._group(self.get_option("team_prefix"), team), name)
        variables = {
            "portal_name": name,
            "portal_alias": host.get("alias") or "",
            "portal_address": host.get("address") or "",
            "portal_team": host.get("team"),
            "portal_teams": teams,
            "portal_hostgroups": groups,
            "portal_templates": host.get("templates") or [],
            "portal_services": [s.get("description") for s in host.get("services") or []],
            "portal_custom_variables": host.get("custom_variables") or {},
            "portal_lease": host.get("lease"),
            "portal_expires_at": host.get("expires_at"),
            "portal_url": host.get("url"),
        }
        if host.get("address"):
            variables["ansible_host"] = host["address"]
        if self.get_option("custom_variables"):
            for custom, value in (host.get("custom_variables") or {}).items():
                variables[variable_name(custom)] = value
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
