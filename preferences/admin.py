"""Admin registrations of the My notifications area (users edit theirs on /notifications/)."""

from django.contrib import admin

from preferences.models import NotificationProfile, NotificationRule


@admin.register(NotificationProfile)
class NotificationProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "default", "timezone", "updated_at"]
    list_filter = ["default"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "position", "enabled", "action", "comment", "hostgroups", "services", "states"]
    list_filter = ["enabled", "action"]
    search_fields = ["user__username", "comment"]
    raw_id_fields = ["user"]
    ordering = ["user__username", "position", "pk"]
