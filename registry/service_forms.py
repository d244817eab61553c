"""The service form of the registry pages. Validation is the API's: the form hands its data to
HostServiceSerializer (a service on a host) or ServiceSerializer (a service on host groups).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from registry.api.serializers import HostServiceSerializer, NaemonModelSerializer, ServiceSerializer, uses_of
from registry.forms import _lines
from registry.models import Command, Host, HostGroup, Service, ServiceGroup


class ServiceForm(forms.Form):
    """Create or edit a service: on one host, or on every host of some host groups.

    Where a service lives is chosen when it is created (as in the API, where the URL says it):
    an edit keeps the host, and a host-group service keeps being one.
    """

    description = forms.CharField(max_length=255, strip=False)
    host = forms.CharField(
        max_length=255,
        required=False,
        strip=False,
        help_text="The host's name; leave empty for a service on every host of the host groups below.",
    )
    hostgroups = forms.ModelMultipleChoiceField(
        HostGroup.objects.all(),
        to_field_name="name",
        required=False,
        label="Host groups",
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Only for a service without a host.",
    )
    templates = forms.CharField(
        required=False, strip=False, help_text="Template names, comma-separated, in order (the first wins)."
    )
    servicegroups = forms.ModelMultipleChoiceField(
        ServiceGroup.objects.all(),
        to_field_name="name",
        required=False,
        label="Service groups",
        widget=forms.SelectMultiple(attrs={"size": 4}),
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

    def __init__(self, *args: Any, instance: Service | None, request: HttpRequest, **kwargs: Any) -> None:
        self.instance = instance
        self.request = request
        self.serializer: NaemonModelSerializer | None = None
        self.target_host: Host | None = instance.host if instance is not None else None
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        if instance is not None:
            # Where the service lives is fixed after its creation (the API's URL says it).
            del self.fields["host"]
            if instance.host is not None:
                del self.fields["hostgroups"]
        for field in self.fields.values():
            css = (
                "form-select"
                if isinstance(field.widget, forms.Select | forms.SelectMultiple)
                else "form-control"
            )
            field.widget.attrs.setdefault("class", css)

    @staticmethod
    def initial_for(service: Service) -> dict[str, Any]:
        return {
            "description": service.description,
            "hostgroups": [g.name for g in service.hostgroups.all()],
            "templates": ", ".join(uses_of(service)),
            "servicegroups": [g.name for g in service.servicegroups.all()],
            "check_command": service.check_command.name if service.check_command else None,
            "check_command_args": "\n".join(service.check_command_args or []),
            "custom_variables": "\n".join(f"{k}={v}" for k, v in (service.custom_variables or {}).items()),
            "notes": service.notes,
        }

    def clean_host(self) -> str:
        name: str = self.cleaned_data.get("host", "")
        if name:
            self.target_host = Host.objects.prefetch_related("hostgroups").filter(name=name).first()
            if self.target_host is None:
                raise forms.ValidationError(f"No host named {name}.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        on_host = self.target_host is not None
        if on_host and cleaned.get("hostgroups"):
            self.add_error("hostgroups", "A service is on a host or on host groups, not both.")
            return cleaned
        variables: dict[str, str] = {}
        for line in _lines(cleaned.get("custom_variables", "")):
            if "=" not in line:
                self.add_error("custom_variables", f"Expected _NAME=value, got {line!r}.")
                return cleaned
            key, value = line.split("=", 1)
            variables[key] = value
        data: dict[str, Any] = {
            "description": cleaned["description"],
            "templates": [t.strip() for t in cleaned.get("templates", "").split(",") if t.strip()],
            "servicegroups": [g.name for g in cleaned.get("servicegroups", [])],
            "check_command": cleaned["check_command"].name if cleaned.get("check_command") else None,
            "check_command_args": _lines(cleaned.get("check_command_args", "")),
            "custom_variables": variables,
            "notes": cleaned.get("notes", ""),
        }
        context: dict[str, Any] = {"request": self.request}
        serializer_class: type[NaemonModelSerializer]
        if on_host:
            serializer_class = HostServiceSerializer
            context["host"] = self.target_host
        else:
            serializer_class = ServiceSerializer
            data["hostgroups"] = [g.name for g in cleaned.get("hostgroups", [])]
        # PATCH semantics on edit: what the form does not show (contacts, intervals) stays.
        serializer = serializer_class(
            self.instance, data=data, partial=self.instance is not None, context=context
        )
        if serializer.is_valid():
            self.serializer = serializer
        else:
            for field, messages in serializer.errors.items():
                target = field if field in self.fields else None
                for message in messages if isinstance(messages, list) else [str(messages)]:
                    self.add_error(target, f"{field}: {message}" if target is None else str(message))
        return cleaned

    def save_kwargs(self) -> dict[str, Any]:
        """What the write sets beside the serializer's data (a new host service: its host)."""
        if self.instance is None and self.target_host is not None:
            return {"host": self.target_host}
        return {}
