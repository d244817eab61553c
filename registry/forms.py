"""Forms of the registry pages. Validation is the API's: a form hands its data to the serializer
of its object (HostSerializer; HostServiceSerializer or ServiceSerializer for a service).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest

from monitoring_portal.models import Team
from registry.check_settings import DIRECTIVE_FIELDS
from registry.models import Command, Host, HostGroup, Service, ServiceGroup
from registry.permissions import team_ids
from registry.recipients import Recipient, recipients
from registry.serializers import (
    HostSerializer,
    HostServiceSerializer,
    NaemonModelSerializer,
    ServiceSerializer,
    uses_of,
)

ObjectT = TypeVar("ObjectT", Host, Service)


def _lines(value: str) -> list[str]:
    lines = value.split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _groups_field(
    queryset: QuerySet[Any], *, label: str, size: int, help_text: str = ""
) -> forms.ModelMultipleChoiceField:
    """A choice of groups, named as the API names them."""
    return forms.ModelMultipleChoiceField(
        queryset,
        to_field_name="name",
        required=False,
        label=label,
        widget=forms.SelectMultiple(attrs={"size": size}),
        help_text=help_text,
    )


def _inherit_or(label: str = "") -> forms.NullBooleanField:
    """On, off, or unset (inherited from the templates, then Naemon's default)."""
    return forms.NullBooleanField(required=False, label=label or None)


class RegistryObjectForm(forms.Form, Generic[ObjectT]):
    """What the host and the service forms share: the check settings, styling, the API's validation.

    A subclass declares its own fields and their order (``field_order``: the fields declared here
    come first otherwise), its ``initial_for`` and its ``clean``, which hands the data to
    ``validate``.
    """

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
    display_name = forms.CharField(max_length=255, required=False, strip=False)
    notes_url = forms.CharField(max_length=1024, required=False, strip=False, label="Notes URL")
    action_url = forms.CharField(max_length=1024, required=False, strip=False, label="Action URL")
    icon_image = forms.CharField(max_length=255, required=False, strip=False)
    icon_image_alt = forms.CharField(max_length=255, required=False, strip=False, label="Icon text")
    event_handler = forms.ModelChoiceField(
        Command.objects.all(), to_field_name="name", required=False, help_text="Runs on every state change."
    )
    event_handler_enabled = _inherit_or()
    flap_detection_enabled = _inherit_or()
    low_flap_threshold = forms.FloatField(required=False, help_text="Percent state change, 0-100.")
    high_flap_threshold = forms.FloatField(required=False, help_text="Percent state change, 0-100.")
    flap_detection_options = forms.CharField(max_length=20, required=False, help_text="e.g. o,d,u")
    check_freshness = _inherit_or()
    freshness_threshold = forms.IntegerField(required=False, min_value=0, help_text="Seconds.")
    obsess = _inherit_or()
    process_perf_data = _inherit_or("Process performance data")
    retain_status_information = _inherit_or()
    retain_nonstatus_information = _inherit_or()
    #: Shown folded under "More directives" (registry/templates/registry/_object_form.html).
    directive_fields: tuple[str, ...] = DIRECTIVE_FIELDS
    notify_owners = forms.BooleanField(
        required=False,
        initial=True,
        label="Notify the owning teams",
        help_text="Their members are told (each by their own rules), besides the contacts named on it.",
    )
    notify_nobody = forms.BooleanField(
        required=False,
        label="Save even though nobody would be notified",
        help_text="Asked when the object would notify nobody: give it a team or contacts instead, if you can.",
    )

    def __init__(self, *args: Any, instance: ObjectT | None, request: HttpRequest, **kwargs: Any) -> None:
        self.instance: ObjectT | None = instance
        self.request = request
        self.serializer: NaemonModelSerializer | None = None
        #: Who would be notified (registry.recipients): the object as stored, then as written.
        self.recipients: list[Recipient] | None = recipients(instance) if instance is not None else None
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = (
                "form-select"
                if isinstance(field.widget, forms.Select | forms.SelectMultiple)
                else "form-check-input"
                if isinstance(field.widget, forms.CheckboxInput)
                else "form-control"
            )
            field.widget.attrs.setdefault("class", css)

    @classmethod
    def initial_for(cls, obj: Any) -> dict[str, Any]:
        """The form's values for an existing object (here: its check settings)."""
        return {
            "templates": ", ".join(uses_of(obj)),
            "check_command": obj.check_command.name if obj.check_command else None,
            "check_command_args": "\n".join(obj.check_command_args or []),
            "custom_variables": "\n".join(f"{k}={v}" for k, v in (obj.custom_variables or {}).items()),
            "notes": obj.notes,
            "notify_owners": obj.notify_owners,
            **{name: getattr(obj, name) for name in DIRECTIVE_FIELDS if name != "event_handler"},
            "event_handler": obj.event_handler.name if obj.event_handler else None,
        }

    def check_settings(self, cleaned: dict[str, Any]) -> dict[str, Any] | None:
        """The serializer's data for the fields both forms share; None (and a form error) on a bad variable."""
        variables: dict[str, str] = {}
        for line in _lines(cleaned.get("custom_variables", "")):
            if "=" not in line:
                self.add_error("custom_variables", f"Expected _NAME=value, got {line!r}.")
                return None
            key, value = line.split("=", 1)
            variables[key] = value
        return {
            "templates": [t.strip() for t in cleaned.get("templates", "").split(",") if t.strip()],
            "check_command": cleaned["check_command"].name if cleaned.get("check_command") else None,
            "check_command_args": _lines(cleaned.get("check_command_args", "")),
            "custom_variables": variables,
            "notes": cleaned.get("notes", ""),
            "notify_owners": bool(cleaned.get("notify_owners")),
            # Unset booleans and numbers are None (inherit); text fields are "" when empty.
            **{name: cleaned.get(name) for name in DIRECTIVE_FIELDS if name != "event_handler"},
            "event_handler": cleaned["event_handler"].name if cleaned.get("event_handler") else None,
        }

    def validate(
        self, serializer_class: type[NaemonModelSerializer], data: dict[str, Any], context: dict[str, Any]
    ) -> None:
        """Validate with the API's serializer: keep it when valid, its errors become form errors.

        PATCH semantics on edit: what the form does not show (contacts, intervals, a host's
        services and lease) stays as it is.
        """
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

    def save_kwargs(self) -> dict[str, Any]:
        """What the write sets beside the serializer's data."""
        return {}

    @property
    def nobody_notified(self) -> bool:
        """Whether the object, as stored or as just written, would notify nobody."""
        return self.recipients is not None and not self.recipients

    def must_confirm_nobody(self, after: list[Recipient]) -> bool:
        """Whether saving must wait for "save even though nobody would be notified".

        Asked when the write would make the object notify nobody: a new object, or one that
        notified somebody. An object already notifying nobody is not blocked on every edit
        (the form shows the warning all along).
        """
        if after or self.cleaned_data.get("notify_nobody"):
            return False
        return self.instance is None or bool(self.recipients)


class HostForm(RegistryObjectForm[Host]):
    """Create or edit a host: the fields people edit by hand (the API has them all)."""

    field_order = [
        "name",
        "alias",
        "address",
        "team",
        "hostgroups",
        "notify_owners",
        "templates",
        "check_command",
        "check_command_args",
        "custom_variables",
        "notes",
    ]

    name = forms.CharField(max_length=255, strip=False)
    alias = forms.CharField(max_length=255, required=False, strip=False)
    address = forms.CharField(max_length=255, required=False, strip=False)
    team = forms.ModelChoiceField(Team.objects.all(), to_field_name="name", required=False)
    hostgroups = _groups_field(HostGroup.objects.select_related("node"), label="Host groups", size=6)

    def __init__(self, *args: Any, instance: Host | None, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, instance=instance, request=request, **kwargs)
        user: Any = request.user
        team_field: Any = self.fields["team"]
        if not user.is_staff:
            # Non-staff pick among their own teams (and keep the host's current one).
            allowed = set(team_ids(user))
            if instance is not None and instance.team_id is not None:
                allowed.add(instance.team_id)
            team_field.queryset = Team.objects.filter(pk__in=allowed)
        if instance is not None:
            self.fields["name"].widget.attrs["readonly"] = True

    @classmethod
    def initial_for(cls, obj: Host) -> dict[str, Any]:
        return {
            "name": obj.name,
            "alias": obj.alias,
            "address": obj.address,
            "team": obj.team.name if obj.team else None,
            "hostgroups": [g.name for g in obj.hostgroups.all()],
            **super().initial_for(obj),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        settings = self.check_settings(cleaned)
        if settings is None:
            return cleaned
        data = {
            "name": cleaned["name"] if self.instance is None else self.instance.name,
            "alias": cleaned.get("alias", ""),
            "address": cleaned.get("address", ""),
            "team": cleaned["team"].name if cleaned.get("team") else None,
            "hostgroups": [g.name for g in cleaned.get("hostgroups", [])],
            **settings,
        }
        self.validate(HostSerializer, data, {"request": self.request})
        return cleaned


class ServiceForm(RegistryObjectForm[Service]):
    """Create or edit a service: on one host, or on every host of some host groups.

    Where a service lives is chosen when it is created (as in the API, where the URL says it):
    an edit keeps the host, and a host-group service keeps being one.
    """

    field_order = [
        "description",
        "host",
        "hostgroups",
        "templates",
        "servicegroups",
        "notify_owners",
        "check_command",
        "check_command_args",
        "custom_variables",
        "notes",
    ]

    description = forms.CharField(max_length=255, strip=False)
    host = forms.CharField(
        max_length=255,
        required=False,
        strip=False,
        help_text="The host's name; leave empty for a service on every host of the host groups below.",
    )
    hostgroups = _groups_field(
        HostGroup.objects.all(), label="Host groups", size=6, help_text="Only for a service without a host."
    )
    servicegroups = _groups_field(ServiceGroup.objects.all(), label="Service groups", size=4)
    is_volatile = _inherit_or("Volatile (every non-OK result notifies)")
    directive_fields = (*DIRECTIVE_FIELDS, "is_volatile")

    def __init__(self, *args: Any, instance: Service | None, request: HttpRequest, **kwargs: Any) -> None:
        self.target_host: Host | None = instance.host if instance is not None else None
        super().__init__(*args, instance=instance, request=request, **kwargs)
        if instance is not None:
            # Where the service lives is fixed after its creation (the API's URL says it).
            del self.fields["host"]
            if instance.host is not None:
                del self.fields["hostgroups"]

    @classmethod
    def initial_for(cls, obj: Service) -> dict[str, Any]:
        return {
            "description": obj.description,
            "hostgroups": [g.name for g in obj.hostgroups.all()],
            "servicegroups": [g.name for g in obj.servicegroups.all()],
            "is_volatile": obj.is_volatile,
            **super().initial_for(obj),
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
        settings = self.check_settings(cleaned)
        if settings is None:
            return cleaned
        data: dict[str, Any] = {
            "description": cleaned["description"],
            "servicegroups": [g.name for g in cleaned.get("servicegroups", [])],
            "is_volatile": cleaned.get("is_volatile"),
            **settings,
        }
        context: dict[str, Any] = {"request": self.request}
        serializer_class: type[NaemonModelSerializer]
        if on_host:
            serializer_class = HostServiceSerializer
            context["host"] = self.target_host
        else:
            serializer_class = ServiceSerializer
            data["hostgroups"] = [g.name for g in cleaned.get("hostgroups", [])]
        self.validate(serializer_class, data, context)
        return cleaned

    def save_kwargs(self) -> dict[str, Any]:
        """What the write sets beside the serializer's data (a new host service: its host)."""
        if self.instance is None and self.target_host is not None:
            return {"host": self.target_host}
        return {}
