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
  - Sets C(ansible_host) to the host's address when it is a plain host name or IP address (an
    address that starts with C(-) or contains white space or shell characters is not used, with a
    warning). The portal's view of the host is in C(portal_*) variables.
  - Custom variables become host variables with a prefix (O(custom_variable_prefix), default
    C(portal_var_)), so C(_RACK) becomes C(portal_var_rack). They never become Ansible's own
    variables. Whoever may edit a host in the portal (every member of its team) sets its custom
    variables; a C(_ANSIBLE_SSH_COMMON_ARGS) of V(-o ProxyCommand=...) or a
    C(_ANSIBLE_PYTHON_INTERPRETER) would otherwise run commands on the controller of everyone who
    uses this inventory. Only the Ansible variables listed in O(connection_variables) may come
    from custom variables.
  - Values from the portal are never templated by Ansible (they are marked unsafe).
  - Hosts whose name starts with C(-) are left out with a warning (ssh would read such a name as
    an option).
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
    description:
      - Whether custom variables become host variables (named with O(custom_variable_prefix)).
        They are always in C(portal_custom_variables), as the portal has them.
    type: bool
    default: true
  custom_variable_prefix:
    description:
      - Prefix of the host variables made from custom variables (C(_RACK) becomes
        C(portal_var_rack)). It must not be empty and must not start with C(ansible_). A custom
        variable never replaces one of this plugin's C(portal_*) variables.
    type: str
    default: portal_var_
  connection_variables:
    description:
      - Ansible variables that the custom variable of the same name may set, for example
        V([ansible_user, ansible_port]) to let C(_ANSIBLE_USER) and C(_ANSIBLE_PORT) choose the
        login. Default none. Every other custom variable whose name starts with C(ansible_) only
        gets the prefix. This option applies whatever O(custom_variables) says.
      - List only variables you would let every editor of the hosts set on your controller.
        Variables that run or choose commands (C(ansible_connection), C(ansible_become*),
        C(*_interpreter), C(*_args), C(*_executable), C(*_command), C(ansible_shell_*)) are
        refused. A value that starts with C(-), or contains white space or shell
        metacharacters, is ignored with a warning.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
# inventory.portal.yml; PORTAL_URL and PORTAL_API_TOKEN from the environment
plugin: monitoring.portal.portal

# Only the web servers, with an extra group per rack
plugin: monitoring.portal.portal
url: https://portal.example.org
hostgroups: [web]
keyed_groups:
  - key: portal_var_rack
    prefix: rack

# Log in as the user the host's _ANSIBLE_USER names
plugin: monitoring.portal.portal
connection_variables: [ansible_user]
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible_collections.monitoring.portal.plugins.module_utils.portal import PortalClient, PortalError

try:  # ansible-core < 2.19 templates inventory strings unless they are marked unsafe
    from ansible.utils.unsafe_proxy import wrap_var
except ImportError:  # later versions never template values from inventory sources

    def wrap_var(value):
        return value


_NOT_A_VARIABLE = re.compile(r"[^A-Za-z0-9_]")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Variables that run or pick commands on the controller: never from the registry.
_REFUSED = re.compile(
    r"^ansible_(connection|become.*|shell_.*|.*_interpreter|.*_args|.*_executable|.*_command)$"
)
# A value that ssh and the other connection plugins take as a value, never as an option or a
# shell word: no leading '-', no white space, no shell metacharacters.
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.:@/%+=,\[\]][A-Za-z0-9_.:@/%+=,\[\]-]*$")


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
        self._check_options()
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
            if host["name"].startswith("-"):
                self.display.warning(
                    f"monitoring.portal inventory: host {host['name']!r} left out: "
                    "a name starting with '-' would be read as an option by ssh."
                )
                continue
            self._add_host(host, groups, teams_of_group)

    def _check_options(self):
        prefix = self.get_option("custom_variable_prefix") or ""
        if not _PREFIX.match(prefix) or prefix.lower().startswith("ansible_"):
            raise AnsibleError(
                f"monitoring.portal inventory: custom_variable_prefix {prefix!r} must be a variable "
                "name (letters, digits, '_') that does not start with 'ansible_'."
            )
        allowed = set()
        for name in self.get_option("connection_variables") or []:
            lower = name.lower()
            if not lower.startswith("ansible_") or _NOT_A_VARIABLE.search(lower):
                raise AnsibleError(
                    f"monitoring.portal inventory: connection_variables: {name!r} is not an Ansible "
                    "variable (ansible_...); other custom variables need no permission."
                )
            if _REFUSED.match(lower):
                raise AnsibleError(
                    f"monitoring.portal inventory: connection_variables: {name!r} runs or chooses "
                    "commands on the controller; it cannot come from the portal's registry."
                )
            allowed.add(lower)
        self._prefix = prefix
        self._connection_variables = allowed

    def _group(self, prefix, name):
        group = self._sanitize_group_name(prefix + name)
        return self.inventory.add_group(group)

    def _plain(self, host, variable, value):
        """Whether a value from the registry may become a connection variable (warn if not)."""
        if isinstance(value, str) and _PLAIN_VALUE.match(value):
            return True
        self.display.warning(
            f"monitoring.portal inventory: {variable} of host {host!r} ignored: {value!r} is not a "
            "plain value (it starts with '-' or contains white space or shell characters)."
        )
        return False

    def _add_host(self, host, groups, teams_of_group):
        name = host["name"]
        self.inventory.add_host(name)
        teams = sorted({t for t in [host.get("team"), *(teams_of_group.get(g) for g in groups)] if t})
        for group in groups:
            self.inventory.add_child(self._group(self.get_option("hostgroup_prefix"), group), name)
        for team in teams:
            self.inventory.add_child(self._group(self.get_option("team_prefix"), team), name)
        custom_variables = host.get("custom_variables") or {}
        variables = {
            "portal_name": name,
            "portal_alias": host.get("alias") or "",
            "portal_address": host.get("address") or "",
            "portal_team": host.get("team"),
            "portal_teams": teams,
            "portal_hostgroups": groups,
            "portal_templates": host.get("templates") or [],
            "portal_services": [s.get("description") for s in host.get("services") or []],
            "portal_custom_variables": custom_variables,
            "portal_lease": host.get("lease"),
            "portal_expires_at": host.get("expires_at"),
            "portal_url": host.get("url"),
        }
        if host.get("address") and self._plain(name, "ansible_host (its address)", host["address"]):
            variables["ansible_host"] = host["address"]
        for custom, value in custom_variables.items():
            lower = variable_name(custom)
            if lower in self._connection_variables:
                if self._plain(name, lower, value):
                    variables[lower] = value
            elif self.get_option("custom_variables"):
                # setdefault: a custom variable never replaces one of the plugin's own.
                variables.setdefault(self._prefix + lower, value)
        variables = wrap_var(variables)
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
