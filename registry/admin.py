"""Admin of the registry: every object, searchable; ordered template use edited inline.

The admin bypasses the API's deploy path: a change here is deployed with the next write or
the next periodic deploy (the renderer re-checks every value, so nothing unchecked is written).
"""

from django.contrib import admin

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


class HostUseInline(admin.TabularInline):
    model = HostUse
    extra = 0
    autocomplete_fields = ["template"]


class ServiceUseInline(admin.TabularInline):
    model = ServiceUse
    extra = 0
    autocomplete_fields = ["template"]


class HostTemplateUseInline(admin.TabularInline):
    model = HostTemplateUse
    fk_name = "template"
    extra = 0
    autocomplete_fields = ["uses"]


class ServiceTemplateUseInline(admin.TabularInline):
    model = ServiceTemplateUse
    fk_name = "template"
    extra = 0
    autocomplete_fields = ["uses"]


@admin.register(NaemonNode)
class NaemonNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "enabled", "livestatus", "config_dir", "reload_method"]
    list_filter = ["role", "enabled", "reload_method"]
    search_fields = ["name", "alias", "livestatus"]


@admin.register(TimePeriod)
class TimePeriodAdmin(admin.ModelAdmin):
    list_display = ["name", "alias", "updated_at"]
    search_fields = ["name", "alias"]


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "command_line", "free_form_args"]
    list_filter = ["channel"]
    search_fields = ["name", "alias", "command_line"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "team", "email", "pager"]
    list_filter = ["team"]
    search_fields = ["name", "alias", "email", "user__username"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["host_notification_commands", "service_notification_commands"]


@admin.register(ContactGroup)
class ContactGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "alias"]
    search_fields = ["name", "alias", "members__name"]
    filter_horizontal = ["members"]


@admin.register(HostGroup)
class HostGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "alias", "team", "node"]
    list_filter = ["team", "node"]
    search_fields = ["name", "alias"]


@admin.register(ServiceGroup)
class ServiceGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "alias", "team"]
    list_filter = ["team"]
    search_fields = ["name", "alias"]


@admin.register(HostTemplate)
class HostTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "check_command", "check_interval", "max_check_attempts"]
    search_fields = ["name", "alias"]
    inlines = [HostTemplateUseInline]


@admin.register(ServiceTemplate)
class ServiceTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "check_command", "check_interval", "max_check_attempts"]
    search_fields = ["name", "alias"]
    inlines = [ServiceTemplateUseInline]


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "team", "expires_at", "updated_at"]
    list_filter = ["team", "hostgroups"]
    search_fields = ["name", "alias", "address"]
    filter_horizontal = ["hostgroups", "contacts", "contact_groups"]
    autocomplete_fields = ["parents", "check_command"]
    inlines = [HostUseInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["description", "host", "check_command", "updated_at"]
    list_filter = ["hostgroups", "servicegroups"]
    search_fields = ["description", "host__name", "notes"]
    list_select_related = ["host", "check_command"]
    filter_horizontal = ["hostgroups", "servicegroups", "contacts", "contact_groups"]
    autocomplete_fields = ["host", "check_command"]
    inlines = [ServiceUseInline]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["pk", "node", "state", "reason", "triggered_by", "created_at", "finished_at"]
    list_filter = ["state", "node"]
    search_fields = ["reason", "triggered_by", "error"]
    list_select_related = ["node"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # A record of what happened: not edited by hand.
        return [f.name for f in Deployment._meta.fields]

    def has_add_permission(self, request):
        return False
