"""Serializers of the registry API, shared with the pages' forms.

Objects are addressed and referenced by name (``"hostgroups": ["web"]``). Strings are taken
as given (never trimmed), then checked with the models' ``naemon_errors()``: bad input is a
400 naming the field, before anything is stored. The write semantics (PUT replaces, one
transaction, deploy only what changed) are registry/writes.py's.

A package because the module passed ~800 lines: ``base`` (the base serializer, name
references, template uses, ETags), ``objects`` (nodes, time periods, commands, contacts,
groups, templates), ``services``, ``hosts`` and ``deployments``. Callers import
from here (``from registry.api import serializers as s``).
"""

from registry.api.serializers.base import (
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
from registry.api.serializers.deployments import (
    DeploymentSerializer,
)
from registry.api.serializers.hosts import (
    MAX_LEASE_SECONDS,
    HostSerializer,
    lease_state,
)
from registry.api.serializers.objects import (
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
from registry.api.serializers.services import (
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
