"""Forms of the registry pages. Validation is the API's: the form hands its data to HostSerializer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from monitoring_portal.models import Team
from registry.api.serializers import HostSerializer, uses_of
from registry.models import Command, Host, HostGroup
from registry.permissions import team_ids


def _lines(value: str) -> list[str]:
    lines = value.split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


class HostForm(forms.Form):
    """Create or edit a host: the fields people edit by hand (the API has them all)."""

    name = forms.CharField(max_length=255, strip=False)
    alias = forms.CharField(max_length=255, required=False, strip=False)
    address = forms.CharField(max_length=255, required=False, strip=False)
    team = forms.ModelChoiceField(Team.objects.all(), to_field_name="name", required=False)
    hostgroups = forms.ModelMultipleChoiceField(
        HostGroup.objects.select_related("node"),
        to_field_name="name",
        required=False,
        label="Host groups",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    templates = forms.CharField(
        required=False, strip=False, help_text="Template names, comma-separated, in order (the first wins)."
    )
    check_command = forms.ModelChoiceField(Command.objects.all(), to_field_name="name", required=False)
    check_command_args = forms.CharField(
        required=False,
        strip=False,
        label="Check command arguments",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: $ARG1$, $ARG2$, …",
    )
    custom_variables = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: _NAME=value",
    )
    notes = forms.CharField(max_length=1024, required=False, strip=False)

    def __init__(self, *args: Any, instance: Host | None, request: HttpRequest, **kwargs: Any) -> None:
        self.instance = instance
        self.request = request
        self.serializer: HostSerializer | None = None
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        user: Any = request.user
        team_field: Any = self.fields["team"]
        if not user.is_staff:
            # Non-staff pick among their own teams (and keep the host's current one).
            allowed = set(team_ids(user))
            if instance is not None and instance.team_id is not None:
                allowed.add(instance.team_id)
            team_field.queryset = Team.objects.filter(pk__in=allowed)
        for field in self.fields.values():
            css = (
                "form-select"
                if isinstance(field.widget, forms.Select | forms.SelectMultiple)
                else "form-control"
            )
            field.widget.attrs.setdefault("class", css)
        if instance is not None:
            self.fields["name"].widget.attrs["readonly"] = True

    @staticmethod
    def initial_for(host: Host) -> dict[str, Any]:
        return {
            "name": host.name,
            "alias": host.alias,
            "address": host.address,
            "team": host.team.name if host.team else None,
            "hostgroups": [g.name for g in host.hostgroups.all()],
            "templates": ", ".join(uses_of(host)),
            "check_command": host.check_command.name if host.check_command else None,
            "check_command_args": "\n".join(host.check_command_args or []),
            "custom_variables": "\n".join(f"{k}={v}" for k, v in (host.custom_variables or {}).items()),
            "notes": host.notes,
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        variables: dict[str, str] = {}
        for line in _lines(cleaned.get("custom_variables", "")):
            if "=" not in line:
                self.add_error("custom_variables", f"Expected _NAME=value, got {line!r}.")
                return cleaned
            key, value = line.split("=", 1)
            variables[key] = value
        templates = [t.strip() for t in cleaned.get("templates", "").split(",") if t.strip()]
        data = {
            "name": cleaned["name"] if self.instance is None else self.instance.name,
            "alias": cleaned.get("alias", ""),
            "address": cleaned.get("address", ""),
            "team": cleaned["team"].name if cleaned.get("team") else None,
            "hostgroups": [g.name for g in cleaned.get("hostgroups", [])],
            "templates": templates,
            "check_command": cleaned["check_command"].name if cleaned.get("check_command") else None,
            "check_command_args": _lines(cleaned.get("check_command_args", "")),
            "custom_variables": variables,
            "notes": cleaned.get("notes", ""),
        }
        # PATCH semantics on edit: what the form does not show (contacts, intervals, services,
        # the lease) stays as it is.
        serializer = HostSerializer(
            self.instance, data=data, partial=self.instance is not None, context={"request": self.request}
        )
        if serializer.is_valid():
            self.serializer = serializer
        else:
            for field, messages in serializer.errors.items():
                target = field if field in self.fields else None
                for message in messages if isinstance(messages, list) else [str(messages)]:
                    self.add_error(target, f"{field}: {message}" if target is None else str(message))
        return cleaned
