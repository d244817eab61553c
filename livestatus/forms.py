"""Forms of the Status area: the status filters (pages and API) and the action forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from livestatus import states, status
from livestatus.actions import MAX_DOWNTIME_SECONDS
from livestatus.client import UnsafeValueError, check_value
from livestatus.models import ActionKind

#: The views a status filter is for, and the states each offers.
KINDS = ("hosts", "services", "problems")
_STATE_CHOICES = {
    "hosts": [*states.HOST_STATES, states.PENDING_STATE],
    "services": [*states.SERVICE_STATES, states.PENDING_STATE],
    "problems": ["down", "unreachable", "critical", "warning", "unknown"],
}
# Fields a kind does not have (a host has no service group and no description).
_NOT_FOR = {"hosts": ("servicegroup", "service"), "services": (), "problems": ()}
YES_NO = [("", _("any")), ("true", _("yes")), ("false", _("no"))]


def _yes_no(value: str) -> bool:
    return value == "true"


def _node_choices() -> list[tuple[str, str | Promise]]:
    # A callable: evaluated when the form validates or renders, not when it is built.
    return [("", _("any node")), *((name, name) for name in status.node_names())]


def _one_line(value: str, label: str) -> str:
    try:
        return check_value(value, label)
    except UnsafeValueError:
        raise ValidationError(
            _("%(label)s may not contain line breaks or control characters."),
            code="unsafe",
            params={"label": label},
        ) from None


class StatusFilterForm(forms.Form):
    """The filters of the hosts, services and problems views (query parameters of the API too)."""

    state = forms.MultipleChoiceField(required=False, help_text=_("Repeat for several states."))
    hostgroup = forms.CharField(required=False, max_length=255, help_text=_("Host group name."))
    servicegroup = forms.CharField(required=False, max_length=255, help_text=_("Service group name."))
    acknowledged = forms.TypedChoiceField(
        required=False, choices=YES_NO, coerce=_yes_no, empty_value=None, help_text=_("true or false.")
    )
    downtime = forms.TypedChoiceField(
        required=False,
        choices=YES_NO,
        coerce=_yes_no,
        empty_value=None,
        label=_("In downtime"),
        help_text=_("true or false (for a service, its host's downtime counts)."),
    )
    node = forms.ChoiceField(required=False, choices=_node_choices, help_text=_("Only this node."))
    host = forms.CharField(required=False, max_length=255, help_text=_("Exact host name."))
    service = forms.CharField(required=False, max_length=255, help_text=_("Exact service description."))
    q = forms.CharField(
        required=False,
        max_length=200,
        label=_("Search"),
        help_text=_("Text in the host name, service description or output (case-insensitive)."),
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name in _NOT_FOR[kind]:
            del self.fields[name]
        state = self.fields["state"]
        assert isinstance(state, forms.MultipleChoiceField)
        state.choices = [(name, name) for name in _STATE_CHOICES[kind]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("hostgroup", "servicegroup", "host", "service", "q"):
            value = cleaned.get(name)
            if value:
                try:
                    cleaned[name] = _one_line(value, name)
                except ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned

    def to_filter(self) -> status.StatusFilter:
        """The validated filters (call after ``is_valid()``)."""
        data = self.cleaned_data
        return status.StatusFilter(
            states=tuple(data.get("state") or ()),
            hostgroup=data.get("hostgroup") or "",
            servicegroup=data.get("servicegroup") or "",
            acknowledged=data.get("acknowledged"),
            downtime=data.get("downtime"),
            node=data.get("node") or "",
            host=data.get("host") or "",
            service=data.get("service") or "",
            q=data.get("q") or "",
        )


# -- actions ------------------------------------------------------------------------


def _comment_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        max_length=1024,
        help_text=_("One line; shown to everyone who looks at the object."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        **kwargs,
    )


class ActionForm(forms.Form):
    """Base of the action forms: an optional node (default: the one that owns the host)."""

    kind: str = ""
    title: str | Promise = ""
    node = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    def params(self) -> dict[str, Any]:
        """The action's arguments for ``livestatus.actions.perform``."""
        return {name: value for name, value in self.cleaned_data.items() if name != "node"}


class AcknowledgeForm(ActionForm):
    kind = ActionKind.ACKNOWLEDGE
    title = _("Acknowledge")
    comment = _comment_field()
    sticky = forms.BooleanField(
        required=False,
        initial=True,
        help_text=_("Keep it until the object is OK/UP again (not just until it changes)."),
    )
    notify = forms.BooleanField(required=False, initial=True, help_text=_("Notify the contacts."))
    persistent = forms.BooleanField(
        required=False, initial=False, help_text=_("Keep the comment after a restart.")
    )


class DowntimeForm(ActionForm):
    kind = ActionKind.DOWNTIME
    title = _("Schedule downtime")
    comment = _comment_field()
    fixed = forms.BooleanField(
        required=False,
        initial=True,
        help_text=_(
            "Fixed: from start to end. Unticked (flexible): starts when the object goes down "
            "between start and end, then lasts the duration."
        ),
    )
    start = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Default: now."),
    )
    end = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    duration_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DOWNTIME_SECONDS // 60,
        help_text=_("Fixed without an end: how long. Flexible: how long once started."),
    )

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        minutes = data.get("duration_minutes")
        return {
            "comment": data["comment"],
            "fixed": data["fixed"],
            "start": data.get("start"),
            "end": data.get("end"),
            "duration": minutes * 60 if minutes else None,
        }


class CommentForm(ActionForm):
    kind = ActionKind.COMMENT
    title = _("Add a comment")
    comment = _comment_field()
    persistent = forms.BooleanField(required=False, initial=True, help_text=_("Keep it after a restart."))


class RecheckForm(ActionForm):
    kind = ActionKind.RECHECK
    title = _("Re-check now")


class EnableNotificationsForm(ActionForm):
    kind = ActionKind.ENABLE_NOTIFICATIONS
    title = _("Enable notifications")


class DisableNotificationsForm(ActionForm):
    kind = ActionKind.DISABLE_NOTIFICATIONS
    title = _("Disable notifications")


class EnableChecksForm(ActionForm):
    kind = ActionKind.ENABLE_CHECKS
    title = _("Enable active checks")


class DisableChecksForm(ActionForm):
    kind = ActionKind.DISABLE_CHECKS
    title = _("Disable active checks")


class RemoveAcknowledgementForm(ActionForm):
    kind = ActionKind.REMOVE_ACKNOWLEDGEMENT
    title = _("Remove acknowledgement")


class DeleteDowntimeForm(ActionForm):
    kind = ActionKind.DELETE_DOWNTIME
    title = _("Delete downtime")
    downtime_id = forms.IntegerField(min_value=0)


ACTION_FORMS: dict[str, type[ActionForm]] = {
    form.kind: form
    for form in (
        AcknowledgeForm,
        RemoveAcknowledgementForm,
        DowntimeForm,
        DeleteDowntimeForm,
        RecheckForm,
        CommentForm,
        EnableNotificationsForm,
        DisableNotificationsForm,
        EnableChecksForm,
        DisableChecksForm,
    )
}
