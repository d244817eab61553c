"""Pages of the registry's other object kinds: host and service groups, templates, commands,
contacts, contact groups, time periods, dependencies and escalations.

One set of views, parametrised by a ``Kind`` (its API serializer, filter set and list columns),
instead of a copy per kind. Every write takes the API's path (registry/writes.py: the
serializer's validation, ownership before and after, deployments after commit) and the API's
permissions (registry/permissions.py), so a page never stores what the API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views import View

from registry import filtersets, lists, writes
from registry import serializers as s
from registry.api.relations import (
    HostDependencyFilterSet,
    HostEscalationFilterSet,
    ServiceDependencyFilterSet,
    ServiceEscalationFilterSet,
)
from registry.object_forms import SerializerForm
from registry.page_helpers import by, delete, forbidden, paginate, query_without_page, say_what_happened
from registry.permissions import may_change, may_create
from registry.serializers.relations import (
    HostDependencySerializer,
    HostEscalationSerializer,
    ServiceDependencySerializer,
    ServiceEscalationSerializer,
    relation_querysets,
)


@dataclass(frozen=True)
class Kind:
    """One object kind of the pages: its URL segment, the API's serializer and filter set."""

    slug: str
    serializer: type[s.NaemonModelSerializer]
    filterset: type[filtersets.RegistryFilterSet]
    #: Keys of the serializer's representation shown as list columns (the first links to the object).
    columns: tuple[str, ...]
    #: Named objects are addressed by name; dependencies and escalations by id.
    by_name: bool = True

    @property
    def model(self) -> type[Model]:
        model: type[Model] = self.serializer.Meta.model
        return model

    @property
    def label(self) -> str:
        """The kind's name in the reader's language (one object)."""
        return str(_NAMES[self.slug][0])

    @property
    def plural(self) -> str:
        """The kind's name in the reader's language (several objects)."""
        return str(_NAMES[self.slug][1])

    def queryset(self) -> QuerySet[Any]:
        if self.by_name:
            read: Any = self.serializer
            return read.read_queryset().order_by("name")
        return relation_querysets()[self.slug].order_by("pk")

    @property
    def sorts(self) -> dict[str, tuple[str, ...]]:
        """``?sort=`` keys of the list: its columns that are fields (registry/lists.py)."""
        return lists.object_sorts(self.model, self.columns, "name" if self.by_name else "pk")

    @property
    def default_sort(self) -> str:
        return "name" if self.by_name else "id"

    @property
    def has_variables(self) -> bool:
        """Whether ``_KEY=value`` searches custom variables (templates have them)."""
        return any(f.name == "custom_variables" for f in self.model._meta.get_fields())

    def key(self, obj: Any) -> str:
        return str(obj.name if self.by_name else obj.pk)

    def get(self, key: str) -> Any:
        if self.by_name:
            return get_object_or_404(self.queryset(), name=key)
        if not key.isdigit():
            raise Http404
        return get_object_or_404(self.queryset(), pk=int(key))


#: What the pages call each kind; the models' verbose names stay English (the deployment reasons,
#: the admin) and Django would pluralise "dependency" as "dependencys".
_NAMES: dict[str, tuple[Any, Any]] = {
    "hostgroups": (gettext_lazy("host group"), gettext_lazy("host groups")),
    "servicegroups": (gettext_lazy("service group"), gettext_lazy("service groups")),
    "hosttemplates": (gettext_lazy("host template"), gettext_lazy("host templates")),
    "servicetemplates": (gettext_lazy("service template"), gettext_lazy("service templates")),
    "commands": (gettext_lazy("command"), gettext_lazy("commands")),
    "contacts": (gettext_lazy("contact"), gettext_lazy("contacts")),
    "contactgroups": (gettext_lazy("contact group"), gettext_lazy("contact groups")),
    "timeperiods": (gettext_lazy("time period"), gettext_lazy("time periods")),
    "hostdependencies": (gettext_lazy("host dependency"), gettext_lazy("host dependencies")),
    "servicedependencies": (gettext_lazy("service dependency"), gettext_lazy("service dependencies")),
    "hostescalations": (gettext_lazy("host escalation"), gettext_lazy("host escalations")),
    "serviceescalations": (gettext_lazy("service escalation"), gettext_lazy("service escalations")),
}

_DEPENDENCY = ("execution_failure_criteria", "notification_failure_criteria", "dependency_period")
_ESCALATION = ("first_notification", "last_notification", "contacts", "contact_groups")

KINDS: dict[str, Kind] = {
    kind.slug: kind
    for kind in (
        Kind(
            "hostgroups",
            s.HostGroupSerializer,
            filtersets.HostGroupFilterSet,
            ("name", "alias", "team", "node"),
        ),
        Kind(
            "servicegroups",
            s.ServiceGroupSerializer,
            filtersets.ServiceGroupFilterSet,
            ("name", "alias", "team"),
        ),
        Kind(
            "hosttemplates",
            s.HostTemplateSerializer,
            filtersets.HostTemplateFilterSet,
            ("name", "templates", "check_command"),
        ),
        Kind(
            "servicetemplates",
            s.ServiceTemplateSerializer,
            filtersets.ServiceTemplateFilterSet,
            ("name", "templates", "check_command"),
        ),
        Kind(
            "commands", s.CommandSerializer, filtersets.CommandFilterSet, ("name", "command_line", "channel")
        ),
        Kind("contacts", s.ContactSerializer, filtersets.ContactFilterSet, ("name", "user", "team", "email")),
        Kind(
            "contactgroups",
            s.ContactGroupSerializer,
            filtersets.ContactGroupFilterSet,
            ("name", "alias", "members"),
        ),
        Kind("timeperiods", s.TimePeriodSerializer, filtersets.TimePeriodFilterSet, ("name", "alias")),
        Kind(
            "hostdependencies",
            HostDependencySerializer,
            HostDependencyFilterSet,
            ("id", "host", "master_host", *_DEPENDENCY),
            by_name=False,
        ),
        Kind(
            "servicedependencies",
            ServiceDependencySerializer,
            ServiceDependencyFilterSet,
            ("id", "service", "master_service", *_DEPENDENCY),
            by_name=False,
        ),
        Kind(
            "hostescalations",
            HostEscalationSerializer,
            HostEscalationFilterSet,
            ("id", "host", *_ESCALATION),
            by_name=False,
        ),
        Kind(
            "serviceescalations",
            ServiceEscalationSerializer,
            ServiceEscalationFilterSet,
            ("id", "service", *_ESCALATION),
            by_name=False,
        ),
    )
}


def may_delete(user: Any, obj: Model) -> bool:
    """Delete as the API allows it: change the object and create its kind (a user may edit their
    own contact, not delete it)."""
    return may_change(user, obj) and may_create(user, type(obj))


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


class _KindView(LoginRequiredMixin, View):
    """Base: the kind comes from the URL (registry/urls.py lists the kinds)."""

    def kind(self) -> Kind:
        return KINDS[self.kwargs["kind"]]

    def url(self, name: str, obj: Any = None) -> str:
        kind = self.kind()
        args = [kind.slug] if obj is None else [kind.slug, kind.key(obj)]
        return reverse(f"registry:object-{name}", args=args)

    def context(self, **extra: Any) -> dict[str, Any]:
        kind = self.kind()
        return {"kind": kind, "list_url": self.url("list"), **extra}


class ObjectListView(_KindView):
    """Objects of one kind: search (``q``, registry/lists.py), sorting and paging as the host list."""

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        k = self.kind()
        q, sort = request.GET.get("q", ""), request.GET.get("sort", "") or k.default_sort
        error = ""
        try:
            order = lists.sort_order(sort, k.sorts)
        except ValueError as exc:
            error, order = str(exc), [k.default_sort]
        queryset = k.queryset()
        try:
            searched = lists.search(queryset, q, k.filterset.search_fields, variables=k.has_variables)
        except ValueError as exc:
            error, searched = error or f"q: {exc}", queryset
        page = paginate(request, searched.order_by(*order) if not error else queryset.none())
        data = k.serializer(page.object_list, many=True, context={"request": request}).data
        rows = [
            (obj, self.url("detail", obj), [_show(item.get(c)) for c in k.columns])
            for obj, item in zip(page.object_list, data, strict=True)
        ]
        links = lists.sort_links(request.GET, sort, k.sorts)
        return render(
            request,
            "registry/objects/list.html",
            self.context(
                page=page,
                rows=rows,
                q=q,
                sort=sort,
                error=error,
                # Each column's header: its sort link, or "" (computed or a list: not sortable).
                headers=[(c, links.get(c, "")) for c in k.columns],
                query=query_without_page(request),
                may_create=may_create(request.user, k.model),
                add_url=self.url("add"),
            ),
            status=400 if error else 200,
        )


class ObjectDetailView(_KindView):
    """One object: its fields as the API shows them."""

    def get(self, request: HttpRequest, kind: str, key: str) -> HttpResponse:
        k = self.kind()
        obj = k.get(key)
        data = k.serializer(obj, context={"request": request}).data
        fields = [(name, _show(value)) for name, value in data.items() if name not in ("url", "id")]
        return render(
            request,
            "registry/objects/detail.html",
            self.context(
                obj=obj,
                fields=fields,
                api_url=data.get("url"),
                may_change=may_change(request.user, obj),
                may_delete=may_delete(request.user, obj),
                edit_url=self.url("edit", obj),
                delete_url=self.url("delete", obj),
            ),
        )


class ObjectEditView(_KindView):
    """Add (no key) or edit an object, through the API's serializer and write path."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        k = self.kind()
        self.obj = k.get(kwargs["key"]) if "key" in kwargs else None
        if self.obj is not None and not may_change(request.user, self.obj):
            return forbidden(
                request, gettext("You may not change this object (%(kind)s).") % {"kind": k.label}
            )
        if self.obj is None and not may_create(request.user, k.model):
            return forbidden(request, gettext("You may not create %(kinds)s.") % {"kinds": k.plural})
        return super().dispatch(request, *args, **kwargs)

    def form(self, data: Any = None) -> SerializerForm:
        return SerializerForm(
            data, serializer_class=self.kind().serializer, instance=self.obj, request=self.request
        )

    def page(self, form: SerializerForm, status: int = 200) -> HttpResponse:
        cancel = self.url("detail", self.obj) if self.obj is not None else self.url("list")
        context = self.context(form=form, obj=self.obj, cancel_url=cancel)
        return render(self.request, "registry/objects/form.html", context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.page(self.form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        k = self.kind()
        form = self.form(request.POST)
        if not form.is_valid() or form.serializer is None:
            return self.page(form, 403 if form.denied else 400)
        what = k.key(self.obj) if self.obj is not None else form.serializer.validated_data.get("name", "")
        action = "edit" if self.obj is not None else "create"
        try:
            result = writes.apply_write(
                form.serializer,
                queryset=k.queryset(),
                user=request.user,
                triggered_by=by(request),
                # Recorded on the deployments, read in logs: English, as the API's reasons.
                reason=f"{action} {k.model._meta.verbose_name} {what} (web)".replace("  ", " "),
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            return self.page(form, 403)
        except writes.Conflict as exc:
            form.add_error(None, str(exc))
            return self.page(form, 409)
        say_what_happened(request, result)
        return redirect(self.url("detail", result.instance))


class ObjectDeleteView(_KindView):
    """Confirm (GET) and delete (POST) an object; refused with the API's reason while it is in use."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.obj = self.kind().get(kwargs["key"])
        if not may_delete(request.user, self.obj):
            return forbidden(
                request, gettext("You may not delete this object (%(kind)s).") % {"kind": self.kind().label}
            )
        return super().dispatch(request, *args, **kwargs)

    def page(self, error: str | None = None) -> HttpResponse:
        context = self.context(obj=self.obj, error=error, cancel_url=self.url("detail", self.obj))
        return render(
            self.request, "registry/objects/confirm_delete.html", context, status=409 if error else 200
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.page()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        k = self.kind()
        error = delete(
            request,
            self.obj,
            serializer_class=k.serializer,
            queryset=k.queryset(),
            what=f"{k.label.capitalize()} {self.obj}",
            reason=f"delete {k.model._meta.verbose_name} {k.key(self.obj)} (web)",
        )
        if error is not None:
            return self.page(error)
        return redirect(self.url("list"))
