"""Serializers of the registry: the API's representation and the validation layer shared with the pages' forms and registry/writes.py.

Objects are addressed and referenced by name (``"hostgroups": ["web"]``). Strings are taken
as given (never trimmed), then checked with the models' ``naemon_errors()``: bad input is a
400 naming the field, before anything is stored. The write semantics (PUT replaces, one
transaction, deploy only what changed) are registry/writes.py's.

A package because the module passed ~800 lines: ``base`` (the base serializer, name
references, template uses, ETags), ``objects`` (nodes, time periods, commands, contacts,
groups, templates), ``services``, ``hosts`` and ``deployments``. Callers import
from here (``from registry import serializers as s``).
"""

from registry.serializers.base import (
    ETAG_IGNORED_KEYS,
    NOT_CONFIG_KEYS,
    USES,
    VOLATILE_KEYS,
    CheckSettingsSerializer,
    Conflict,
    NaemonModelSerializer,
    OrderedTemplatesField,
    UsesListSerializer,
    by_name,
    config_state,
    etag_of,
    every_node,
    masters,
    plain,
    prefetch_uses,
    set_uses,
    stored_state,
    uses_of,
)
from registry.serializers.deployments import (
    DeploymentSerializer,
)
from registry.serializers.hosts import (
    MAX_LEASE_SECONDS,
    HostSerializer,
    lease_state,
)
from registry.serializers.objects import (
    CommandSerializer,
    ContactGroupSerializer,
    ContactSerializer,
    HostGroupSerializer,
    HostTemplateSerializer,
    NaemonNodeSerializer,
    ServiceGroupSerializer,
    ServiceTemplateSerializer,
    TimePeriodSerializer,
)
from registry.serializers.services import (
    HostServiceSerializer,
    ServiceSerializer,
)

__all__ = [
    "ETAG_IGNORED_KEYS",
    "MAX_LEASE_SECONDS",
    "NOT_CONFIG_KEYS",
    "USES",
    "VOLATILE_KEYS",
    "CheckSettingsSerializer",
    "CommandSerializer",
    "Conflict",
    "ContactGroupSerializer",
    "ContactSerializer",
    "DeploymentSerializer",
    "HostGroupSerializer",
    "HostSerializer",
    "HostServiceSerializer",
    "HostTemplateSerializer",
    "NaemonModelSerializer",
    "NaemonNodeSerializer",
    "OrderedTemplatesField",
    "ServiceGroupSerializer",
    "ServiceSerializer",
    "ServiceTemplateSerializer",
    "TimePeriodSerializer",
    "UsesListSerializer",
    "by_name",
    "config_state",
    "etag_of",
    "every_node",
    "lease_state",
    "masters",
    "plain",
    "prefetch_uses",
    "set_uses",
    "stored_state",
    "uses_of",
]
