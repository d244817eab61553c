"""Forms for the account pages."""

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from livestatus.client import text
from monitoring_portal.models import TokenScope, scope_problem


class APITokenForm(forms.Form):
    """Create a personal API token."""

    name = forms.CharField(
        max_length=100, help_text=gettext_lazy("What the token is for, e.g. 'ansible on bastion1'.")
    )
    expires_in_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        help_text=gettext_lazy("Leave empty for a token that does not expire."),
    )
    read_only = forms.BooleanField(
        required=False,
        help_text=gettext_lazy(
            "Only reads (GET): enough for the inventory plugin, dashboards and reporting scripts."
        ),
    )

    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.FULL,
        required=False,
        help_text=gettext_lazy(
            "Narrow what the token may change: operator actions only, or registry writes in some host groups."
        ),
    )
    hostgroups = forms.CharField(
        max_length=2000,
        required=False,
        help_text=gettext_lazy(
            "With 'registry writes in given host groups only': host group names, separated by commas."
        ),
    )

    def clean_hostgroups(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["hostgroups"].split(",") if name.strip()]
        try:
            return [text.check_name(name, "host group") for name in names]
        except text.UnsafeTextError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["scope"] = cleaned.get("scope") or TokenScope.FULL
        if "hostgroups" in cleaned:
            problem = scope_problem(cleaned.get("read_only", False), cleaned["scope"], cleaned["hostgroups"])
            if problem is not None:
                self.add_error(problem[0], problem[1])
        return cleaned

    def clean_name(self) -> str:
        # The name reaches logs and audit fields: nothing that ends a line or hides text.
        try:
            return text.check_name(self.cleaned_data["name"].strip(), "name")
        except text.UnsafeTextError as exc:
            raise forms.ValidationError(
                _("Give the token a name without such characters: %(problem)s") % {"problem": exc}
            ) from None

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None
