"""Admin registrations of the Status area: the action log and the saved views, read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from livestatus.models import ActionLog, SavedView


@admin.register(ActionLog)
class ActionLogAdmin(admin.ModelAdmin):
    """The record of operator actions; it is written by the portal only, never edited."""

    list_display = ["created_at", "username", "kind", "host_name", "service_description", "node", "outcome"]
    list_filter = ["kind", "outcome", "node"]
    search_fields = ["host_name", "service_description", "username", "command"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    """Users' saved views, to look at: each is changed by its user only (pages and API)."""

    list_display = ["user", "name", "path", "query", "created_at"]
    search_fields = ["name", "user__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
