"""What the registry's lists add to their filter sets (sorting, search words; the host list's node
and deployment), and the status pages' link to an object's registry entry.

Search (``q``), one or more words, all of which must match:

* ``_KEY=value``: a custom variable, on kinds that have them (as Naemon spells it, ``_RACK=B12``;
  the name is case-insensitive, the value may be a glob);
* a glob (``web*``, ``db-?``: ``*`` any run, ``?`` one character), matched against the whole
  name, alias or address (the list's search fields), case-insensitively, as notification rules
  accept them;
* anything else: a substring of one of the search fields.

Sorting (``sort``): a whitelisted key, ``-`` in front for descending; the order ends on a unique
field so that paging never shows a row twice. An unknown key is a 400 naming ``sort``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.http import QueryDict
from django.urls import reverse

from registry.cluster import topology
from registry.models import Deployment, Host, NaemonNode, Service
from registry.validation import NaemonValueError, check_custom_variable_name

#: ``?sort=`` values of the host list (``-`` in front: descending) and the order they give.
HOST_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "address": ("address", "name"),
    "team": ("team__name", "name"),
    "services": ("service_count", "name"),
    "lease": ("expires_at", "name"),
}
SEARCH_FIELDS = ("name", "alias", "address")

#: ``?sort=`` values of the service list; ``pk`` last: descriptions repeat across hosts.
SERVICE_SORTS: dict[str, tuple[str, ...]] = {
    "description": ("description", "pk"),
    "host": ("host__name", "description", "pk"),
    "check": ("check_command__name", "description", "pk"),
}
SERVICE_SEARCH_FIELDS = ("description", "host__name", "notes")


def sort_order(value: str, allowed: dict[str, tuple[str, ...]]) -> list[str]:
    """The ``order_by`` of a ``?sort=`` value; ValueError naming the allowed values."""
    key = value.removeprefix("-")
    if key not in allowed:
        choices = ", ".join(sorted(allowed))
        raise ValueError(f"sort must be one of {choices}, optionally with a leading '-'; not {value!r}.")
    return [f"-{field}" if value.startswith("-") else field for field in allowed[key]]


def glob_regex(pattern: str) -> str:
    """An anchored regular expression (Python and PostgreSQL alike) for a ``*``/``?`` glob."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return "^" + "".join(parts) + "$"


def _is_glob(word: str) -> bool:
    return "*" in word or "?" in word


def sort_links(query: QueryDict, sort: str, allowed: Iterable[str]) -> dict[str, str]:
    """Each sortable column's header link: the list's query with that sort (again: reversed)."""
    unsorted = query.copy()
    for key in ("sort", "page"):
        unsorted.pop(key, None)
    rest = f"?{unsorted.urlencode()}{'&' if unsorted else ''}"
    return {key: f"{rest}sort={'-' if sort == key else ''}{key}" for key in allowed}


def object_sorts(model: type[Model], columns: Iterable[str], unique: str) -> dict[str, tuple[str, ...]]:
    """The sorts of a kind's list: its columns that are fields of its own or a named reference."""
    sorts: dict[str, tuple[str, ...]] = {}
    for column in columns:
        try:
            field = model._meta.get_field(column)
        except FieldDoesNotExist:
            continue  # computed by the serializer
        if field.many_to_many or field.one_to_many:
            continue  # a list: no single value to sort by
        if field.many_to_one or field.one_to_one:
            related: Any = field.related_model
            if not any(f.name == "name" for f in related._meta.get_fields()):
                continue
            column_order = f"{column}__name"
        else:
            column_order = column
        sorts[column] = (column_order, unique) if column_order != unique else (unique,)
    return sorts


def search_hosts(queryset: QuerySet[Host], q: str) -> QuerySet[Host]:
    """Hosts matching every word of ``q`` (module docstring); ValueError on a bad variable name."""
    return search(queryset, q, SEARCH_FIELDS, variables=True)


def search(
    queryset: QuerySet[Any], q: str, fields: Sequence[str], *, variables: bool = False
) -> QuerySet[Any]:
    """Objects matching every word of ``q`` in ``fields`` (and custom variables when the kind has
    them: ``variables``); ValueError on a bad variable name."""
    for n, word in enumerate(q.split()):
        if variables and word.startswith("_") and "=" in word:
            name, value = word.split("=", 1)
            try:
                key = check_custom_variable_name(name)
            except NaemonValueError as exc:
                raise ValueError(str(exc)) from None
            # KeyTextTransform, not a "custom_variables__KEY" lookup: a name may contain "__".
            label = f"custom_variable_{n}"
            queryset = queryset.annotate(**{label: KeyTextTransform(key, "custom_variables")})
            regex = glob_regex(value) if _is_glob(value) else f"^{re.escape(value)}$"
            queryset = queryset.filter(**{f"{label}__regex": regex})
        elif _is_glob(word):
            regex = glob_regex(word)
            queryset = queryset.filter(_any(fields, "iregex", regex))
        else:
            queryset = queryset.filter(_any(fields, "icontains", word))
    return queryset


def _any(fields: Iterable[str], lookup: str, value: str) -> Q:
    query = Q()
    for field in fields:
        query |= Q(**{f"{field}__{lookup}": value})
    return query


def host_nodes(hosts: Sequence[Host]) -> dict[int, str | None]:
    """The node that checks each host now (``registry.cluster``): a poller of its groups, else the
    active master. Needs ``hostgroups`` prefetched."""
    cluster = topology()
    return {host.pk: cluster.checker(g.name for g in host.hostgroups.all()) for host in hosts}


def latest_deployments(names: Iterable[str]) -> dict[str, Deployment]:
    """The latest deployment of each named node (two queries for any number of nodes)."""
    latest = Deployment.objects.filter(node=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    ids = dict(
        NaemonNode.objects.filter(name__in=set(names))
        .annotate(latest=Subquery(latest))
        .values_list("latest", "name")
    )
    return {ids[d.pk]: d for d in Deployment.objects.filter(pk__in=[i for i in ids if i])}


def host_rows(hosts: Sequence[Host]) -> list[dict[str, Any]]:
    """Each host of a page with its checking node and that node's latest deployment."""
    checkers = host_nodes(hosts)
    deployments = latest_deployments(name for name in checkers.values() if name)
    return [
        {"host": host, "node": checkers[host.pk], "deployment": deployments.get(checkers[host.pk] or "")}
        for host in hosts
    ]


def registry_url(host: str, service: str = "") -> str | None:
    """The registry page of a live object (a status page's "registry entry"), or None: unknown."""
    if not service:
        return (
            reverse("registry:host-detail", args=[host]) if Host.objects.filter(name=host).exists() else None
        )
    # On the host itself, or on a host group the host is in (the service the core shows either way).
    found = (
        Service.objects.filter(description=service)
        .filter(Q(host__name=host) | Q(hostgroups__hosts__name=host))
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return reverse("registry:service-detail", args=[found]) if found is not None else None
