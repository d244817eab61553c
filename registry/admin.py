"""Admin of the registry: every object, searchable and read-only.

Django's admin saves straight to the database: no Naemon validation of the whole object, no
ownership checks, no deployment. An edit there would sit in the database without reaching the
nodes (until some unrelated write deployed it, unverified by whoever made it). So the registry
is read-only here; it is changed through the API and the pages (registry/writes.py), which
validate, record and deploy every change. Nodes too: a node's paths and reload method decide
where and how configs are deployed.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    ServiceTemplateUse,
    ServiceUse,
    TimePeriod,
)

NOTE = (
    "Read-only: change the registry through the API (/api/v1/registry/) or the Registry pages, which deploy."
)


class ReadOnly:
    """No add, change or delete in the admin (see the module docstring); viewing stays."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    def changeform_view(
        self, request: HttpRequest, object_id: Any = None, form_url: str = "", extra_context: Any = None
    ) -> Any:
        extra = {"subtitle": NOTE, **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra_context=extra)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        return super().changelist_view(request, extra_context={"subtitle": NOTE, **(extra_context or {})})


class HostUseInline(ReadOnly, admin.TabularInline):
    model = HostUse
    extra = 0
    autocomplete_fields = ["template"]


class ServiceUseInline(ReadOnly, admin.TabularInline):
    model = ServiceUse
    extra = 0
    autocomplete_fields = ["template"]


class HostTemplateUseInline(ReadOnly, admin.TabularInline):
    model = HostTemplateUse
    fk_name = "template"
    extra = 0
    autocomplete_fields = ["uses"]


class ServiceTemplateUseInline(ReadOnly, admin.TabularInline):
    model = ServiceTemplateUse
    fk_name = "template"
    extra = 0
    autocomplete_fields = ["uses"]


@admin.register(NaemonNode)
class NaemonNodeAdmin(ReadOnlyAdmin):
    list_display = ["name", "role", "enabled", "livestatus", "config_dir", "reload_method"]
    list_filter = ["role", "enabled", "reload_method"]
    search_fields = ["name", "alias", "livestatus"]


@admin.register(TimePeriod)
class TimePeriodAdmin(ReadOnlyAdmin):
    list_display = ["name", "alias", "updated_at"]
    search_fields = ["name", "alias"]


@admin.register(Command)
class CommandAdmin(ReadOnlyAdmin):
    list_display = ["name", "channel", "command_line", "free_form_args"]
    list_filter = ["channel"]
    search_fields = ["name", "alias", "command_line"]


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "team", "email", "pager"]
    list_filter = ["team"]
    search_fields = ["name", "alias", "email", "user__username"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["host_notification_commands", "service_notification_commands"]


@admin.register(ContactGroup)
class ContactGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "alias"]
    search_fields = ["name", "alias", "members__name"]
    filter_horizontal = ["members"]


@admin.register(HostGroup)
class HostGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "alias", "team", "node"]
    list_filter = ["team", "node"]
    search_fields = ["name", "alias"]


@admin.register(ServiceGroup)
class ServiceGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "alias", "team"]
    list_filter = ["team"]
    search_fields = ["name", "alias"]


@admin.register(HostTemplate)
class HostTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "check_command", "check_interval", "max_check_attempts"]
    search_fields = ["name", "alias"]
    inlines = [HostTemplateUseInline]


@admin.register(ServiceTemplate)
class ServiceTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "check_command", "check_interval", "max_check_attempts"]
    search_fields = ["name", "alias"]
    inlines = [ServiceTemplateUseInline]


@admin.register(Host)
class HostAdmin(ReadOnlyAdmin):
    list_display = ["name", "address", "team", "expires_at", "updated_at"]
    list_filter = ["team", "hostgroups"]
    search_fields = ["name", "alias", "address"]
    filter_horizontal = ["hostgroups", "contacts", "contact_groups"]
    autocomplete_fields = ["parents", "check_command"]
    inlines = [HostUseInline]


@admin.register(Service)
class ServiceAdmin(ReadOnlyAdmin):
    list_display = ["description", "host", "check_command", "updated_at"]
    list_filter = ["hostgroups", "servicegroups"]
    search_fields = ["description", "host__name", "notes"]
    list_select_related = ["host", "check_command"]
    filter_horizontal = ["hostgroups", "servicegroups", "contacts", "contact_groups"]
    autocomplete_fields = ["host", "check_command"]
    inlines = [ServiceUseInline]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["pk", "node", "state", "reason", "triggered_by", "created_at", "finished_at"]
    list_filter = ["state", "node"]
    search_fields = ["reason", "triggered_by", "error"]
    list_select_related = ["node"]
    date_hierarchy = "created_at"
