"""Forms of the registry pages. Validation is the API's: a form hands its data to the serializer
of its object (HostSerializer; HostServiceSerializer or ServiceSerializer for a service).
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring_portal.models import Team
from registry.check_settings import DIRECTIVE_FIELDS
from registry.models import (
    Command,
    Host,
    HostGroup,
    HostTemplate,
    Service,
    ServiceGroup,
    ServiceTemplate,
)
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


#: The label of each field of the registry's forms, by its API name: the host and service forms and
#: the forms generated from a kind's serializer (registry/object_forms.py) share it, so a directive
#: reads the same (and is translated once) wherever it is edited.
FIELD_LABELS: dict[str, Any] = {
    "name": _("Name"),
    "alias": _("Alias"),
    "address": _("Address"),
    "description": _("Description"),
    "team": _("Team"),
    "node": _("Node"),
    "user": _("User"),
    "email": _("Email"),
    "pager": _("Pager"),
    "channel": _("Channel"),
    "command_line": _("Command line"),
    "free_form_args": _("Free-form arguments"),
    "host": _("Host"),
    "service": _("Service"),
    "master_host": _("Master host"),
    "master_service": _("Master service"),
    "hostgroups": _("Host groups"),
    "servicegroups": _("Service groups"),
    "hostgroup_members": _("Member host groups"),
    "servicegroup_members": _("Member service groups"),
    "members": _("Members"),
    "parents": _("Parents"),
    "contacts": _("Contacts"),
    "contact_groups": _("Contact groups"),
    "templates": _("Templates"),
    "check_command": _("Check command"),
    "check_command_args": _("Check command arguments"),
    "custom_variables": _("Custom variables"),
    "notes": _("Notes"),
    "display_name": _("Display name"),
    "notes_url": _("Notes URL"),
    "action_url": _("Action URL"),
    "icon_image": _("Icon image"),
    "icon_image_alt": _("Icon text"),
    "check_interval": _("Check interval"),
    "retry_interval": _("Retry interval"),
    "max_check_attempts": _("Max check attempts"),
    "check_period": _("Check period"),
    "active_checks_enabled": _("Active checks enabled"),
    "passive_checks_enabled": _("Passive checks enabled"),
    "notifications_enabled": _("Notifications enabled"),
    "notification_interval": _("Notification interval"),
    "notification_period": _("Notification period"),
    "notification_options": _("Notification options"),
    "event_handler": _("Event handler"),
    "event_handler_enabled": _("Event handler enabled"),
    "flap_detection_enabled": _("Flap detection enabled"),
    "low_flap_threshold": _("Low flap threshold"),
    "high_flap_threshold": _("High flap threshold"),
    "flap_detection_options": _("Flap detection options"),
    "check_freshness": _("Check freshness"),
    "freshness_threshold": _("Freshness threshold"),
    "obsess": _("Obsess"),
    "process_perf_data": _("Process performance data"),
    "retain_status_information": _("Retain status information"),
    "retain_nonstatus_information": _("Retain non-status information"),
    "is_volatile": _("Volatile (every non-OK result notifies)"),
    "host_notification_commands": _("Host notification commands"),
    "host_notification_options": _("Host notification options"),
    "host_notification_period": _("Host notification period"),
    "service_notification_commands": _("Service notification commands"),
    "service_notification_options": _("Service notification options"),
    "service_notification_period": _("Service notification period"),
    "ranges": _("Ranges"),
    "exclude": _("Excluded time periods"),
    "dependency_period": _("Dependency period"),
    "execution_failure_criteria": _("Execution failure criteria"),
    "notification_failure_criteria": _("Notification failure criteria"),
    "inherits_parent": _("Inherits parent"),
    "first_notification": _("First notification"),
    "last_notification": _("Last notification"),
    "escalation_period": _("Escalation period"),
    "escalation_options": _("Escalation options"),
    "notify_owners": _("Notify the owning teams"),
}


def label_for(name: str) -> Any:
    """A field's label in the reader's language; a field not in FIELD_LABELS yet reads as its API name."""
    return FIELD_LABELS.get(name) or capfirst(name.replace("_", " "))


#: Up to this many choices, the page carries them all for autocomplete.js; above (hosts: thousands),
#: the script asks the registry API (``?q=``) as the user types.
INLINE_CHOICES = 200


class NamesInput(forms.TextInput):
    """Names, comma-separated, as typed without JavaScript; autocomplete.js makes it a list of
    removable chips with suggestions (and up/down buttons when the order matters).

    Several values of the same field (``hostgroups=a&hostgroups=b``, as a multi-select sends them)
    are read as the list of them, so a script or a test may post either way.
    """

    def __init__(self, queryset: QuerySet[Any], *, slug: str = "name", ordered: bool = False) -> None:
        super().__init__(attrs={"autocomplete": "off", "data-autocomplete": "names"})
        self.queryset, self.slug, self.ordered = queryset, slug, ordered

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        extra = context["widget"]["attrs"]
        if self.ordered:
            extra["data-ordered"] = "true"
        names = list(
            self.queryset.order_by(self.slug).values_list(self.slug, flat=True)[: INLINE_CHOICES + 1]
        )
        if len(names) <= INLINE_CHOICES:
            extra["data-options"] = json.dumps(names)
        else:
            extra["data-source"] = reverse(f"registry-api:{self.queryset.model._meta.model_name}-list")
            extra["data-slug"] = self.slug
        return context

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return super().format_value(value)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return ", ".join(str(v) for v in values if v) if name in data else None


class NameListField(forms.Field):
    """A list of object names (templates, groups, contacts, hosts), in the order given.

    Whether each exists is the serializer's check, as for the API (one message for both).
    """

    def __init__(
        self, queryset: QuerySet[Any], *, slug: str = "name", ordered: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("widget", NamesInput(queryset, slug=slug, ordered=ordered))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]


def _groups_field(queryset: QuerySet[Any], *, label: Any, help_text: Any = "") -> NameListField:
    """A choice of groups, named as the API names them."""
    return NameListField(
        queryset, label=label, help_text=help_text or _("Names, comma-separated (suggested as you type).")
    )


def _inherit_or() -> forms.NullBooleanField:
    """On, off, or unset (inherited from the templates, then Naemon's default)."""
    return forms.NullBooleanField(required=False)


class RegistryObjectForm(forms.Form, Generic[ObjectT]):
    """What the host and the service forms share: the check settings, styling, the API's validation.

    A subclass declares its own fields and their order (``field_order``: the fields declared here
    come first otherwise), its ``initial_for`` and its ``clean``, which hands the data to
    ``validate``.
    """

    templates = NameListField(
        HostTemplate.objects.all(),
        ordered=True,
        label=_("Templates"),
        help_text=_("Template names, comma-separated, in order (the first wins)."),
    )
    check_command = forms.ModelChoiceField(Command.objects.all(), to_field_name="name", required=False)
    check_command_args = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: $ARG1$, $ARG2$, …"),
    )
    custom_variables = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: _NAME=value"),
    )
    notes = forms.CharField(max_length=1024, required=False, strip=False)
    display_name = forms.CharField(max_length=255, required=False, strip=False)
    notes_url = forms.CharField(max_length=1024, required=False, strip=False)
    action_url = forms.CharField(max_length=1024, required=False, strip=False)
    icon_image = forms.CharField(max_length=255, required=False, strip=False)
    icon_image_alt = forms.CharField(max_length=255, required=False, strip=False)
    event_handler = forms.ModelChoiceField(
        Command.objects.all(),
        to_field_name="name",
        required=False,
        help_text=_("Runs on every state change."),
    )
    event_handler_enabled = _inherit_or()
    flap_detection_enabled = _inherit_or()
    low_flap_threshold = forms.FloatField(required=False, help_text=_("Percent state change, 0-100."))
    high_flap_threshold = forms.FloatField(required=False, help_text=_("Percent state change, 0-100."))
    flap_detection_options = forms.CharField(max_length=20, required=False, help_text=_("e.g. o,d,u"))
    check_freshness = _inherit_or()
    freshness_threshold = forms.IntegerField(required=False, min_value=0, help_text=_("Seconds."))
    obsess = _inherit_or()
    process_perf_data = _inherit_or()
    retain_status_information = _inherit_or()
    retain_nonstatus_information = _inherit_or()
    #: Shown folded under "More directives" (registry/templates/registry/_object_form.html).
    directive_fields: tuple[str, ...] = DIRECTIVE_FIELDS
    notify_owners = forms.BooleanField(
        required=False,
        initial=True,
        help_text=_("Their members are told (each by their own rules), besides the contacts named on it."),
    )
    notify_nobody = forms.BooleanField(
        required=False,
        label=_("Save even though nobody would be notified"),
        help_text=_(
            "Asked when the object would notify nobody: give it a team or contacts instead, if you can."
        ),
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
        for name, field in self.fields.items():
            if field.label is None:
                field.label = label_for(name)
            css = (
                "form-select"
                if isinstance(field.widget, forms.Select | forms.SelectMultiple)
                else "form-check-input"
                if isinstance(field.widget, forms.CheckboxInput)
                else "form-control"
            )
            field.widget.attrs.setdefault("class", css)
            if field.required:
                # The page marks it too (a "*" and the legend); screen readers hear this.
                field.widget.attrs["aria-required"] = "true"

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
                self.add_error(
                    "custom_variables", gettext("Expected _NAME=value, got %(line)s.") % {"line": repr(line)}
                )
                return None
            key, value = line.split("=", 1)
            variables[key] = value
        return {
            "templates": cleaned.get("templates", []),
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
        "parents",
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
    hostgroups = _groups_field(HostGroup.objects.all(), label=_("Host groups"))
    parents = NameListField(
        Host.objects.all(),
        label=_("Parents"),
        help_text=_("Hosts between the core and this one (network path)."),
    )

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
            "parents": [p.name for p in obj.parents.all()],
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
            "hostgroups": cleaned.get("hostgroups", []),
            "parents": cleaned.get("parents", []),
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
        help_text=_("The host's name; leave empty for a service on every host of the host groups below."),
    )
    hostgroups = _groups_field(
        HostGroup.objects.all(), label=_("Host groups"), help_text=_("Only for a service without a host.")
    )
    servicegroups = _groups_field(ServiceGroup.objects.all(), label=_("Service groups"))
    templates = NameListField(
        ServiceTemplate.objects.all(),
        ordered=True,
        label=_("Templates"),
        help_text=_("Template names, comma-separated, in order (the first wins)."),
    )
    is_volatile = _inherit_or()
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
                raise forms.ValidationError(gettext("No host named %(name)s.") % {"name": name})
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        on_host = self.target_host is not None
        if on_host and cleaned.get("hostgroups"):
            self.add_error("hostgroups", gettext("A service is on a host or on host groups, not both."))
            return cleaned
        settings = self.check_settings(cleaned)
        if settings is None:
            return cleaned
        data: dict[str, Any] = {
            "description": cleaned["description"],
            "servicegroups": cleaned.get("servicegroups", []),
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
            data["hostgroups"] = cleaned.get("hostgroups", [])
        self.validate(serializer_class, data, context)
        return cleaned

    def save_kwargs(self) -> dict[str, Any]:
        """What the write sets beside the serializer's data (a new host service: its host)."""
        if self.instance is None and self.target_host is not None:
            return {"host": self.target_host}
        return {}
