"""The blocks every node's config gets from the portal itself: placeholders and defaults.

Plain text, no Django (registry/render.py writes them): what a fresh site or an empty poller
needs so that the core accepts the config and verifies it without warnings.
"""

from __future__ import annotations

from registry import validation

# Nagios 4 refuses a config without a host, a service or a contact ("There are no services
# defined!"): a new site's first host, or a poller whose host groups are still empty, would
# never deploy. Such a node gets inert placeholders (no checks, no notifications) until it
# has objects of its own; the registry refuses user objects with these names.
PLACEHOLDER = validation.PLACEHOLDER_PREFIX
_INERT = """    active_checks_enabled 0
    passive_checks_enabled 0
    notifications_enabled 0
    notification_interval 0
    event_handler_enabled 0
    flap_detection_enabled 0
"""
PLACEHOLDER_COMMAND = f"""define command {{
    command_name {PLACEHOLDER}
    command_line /bin/true
}}
"""
PLACEHOLDER_CONTACT = f"""define contact {{
    contact_name {PLACEHOLDER}
    alias Placeholder: the core needs a contact; this portal has none yet
    host_notifications_enabled 0
    service_notifications_enabled 0
    host_notification_commands {PLACEHOLDER}
    service_notification_commands {PLACEHOLDER}
}}
"""
PLACEHOLDER_HOST = f"""define host {{
    host_name {PLACEHOLDER}
    alias Placeholder: the core needs a host and a service; this node has none yet
    check_command {PLACEHOLDER}
    max_check_attempts 1
{_INERT}}}
"""
PLACEHOLDER_SERVICE = f"""define service {{
    host_name {PLACEHOLDER}
    service_description placeholder
    check_command {PLACEHOLDER}
    max_check_attempts 1
    check_interval 60
    retry_interval 60
{_INERT}}}
"""


# Defaults a fresh site needs to verify without warnings ("no check_period", "no
# notification_period", "no contacts"), unless the registry says otherwise: a time period 24x7
# (the registry's own 24x7, if it has one), default templates that set the periods, used last
# by every host, service and contact (any period set on the object or through its templates
# wins), and a default contact group for hosts nobody is assigned to: the contacts of the
# portal's staff (like Nagios's stock "admins" group; not everyone: in a centre with thousands
# of users an unowned host must not page them all), or the registry's own group of that name.
# Without either, no such group: the verifier's "no contacts" warning then says, truthfully,
# that nobody would be told.
DEFAULT_PERIOD = "24x7"
DEFAULT_HOST_TEMPLATE = "portal-default-host"
DEFAULT_SERVICE_TEMPLATE = "portal-default-service"
DEFAULT_CONTACT_TEMPLATE = "portal-default-contact"
DEFAULT_CONTACT_GROUP = "portal-default-contacts"
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_TIMEPERIOD = (
    f"define timeperiod {{\n    timeperiod_name {DEFAULT_PERIOD}\n    alias 24 hours a day, 7 days a week\n"
    + "".join(f"    {day} 00:00-24:00\n" for day in _DAYS)
    + "}\n"
)
_PERIODS = (
    f"    check_period {DEFAULT_PERIOD}\n    notification_period {DEFAULT_PERIOD}\n    register 0\n}}\n"
)
DEFAULT_HOST_TEMPLATE_BLOCK = f"define host {{\n    name {DEFAULT_HOST_TEMPLATE}\n{_PERIODS}"
DEFAULT_SERVICE_TEMPLATE_BLOCK = f"define service {{\n    name {DEFAULT_SERVICE_TEMPLATE}\n{_PERIODS}"
DEFAULT_CONTACT_TEMPLATE_BLOCK = f"""define contact {{
    name {DEFAULT_CONTACT_TEMPLATE}
    host_notification_period {DEFAULT_PERIOD}
    service_notification_period {DEFAULT_PERIOD}
    register 0
}}
"""
