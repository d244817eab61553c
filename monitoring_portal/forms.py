"""Forms for the account pages."""

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from livestatus.client import text


class APITokenForm(forms.Form):
    """Create a personal API token."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'ansible on bastion1'.")
    expires_in_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Leave empty for a token that does not expire.",
    )
    read_only = forms.BooleanField(
        required=False,
        help_text="Only reads (GET): enough for the inventory plugin, dashboards and reporting scripts.",
    )

    def clean_name(self) -> str:
        # The name reaches logs and audit fields: nothing that ends a line or hides text.
        try:
            return text.check_name(self.cleaned_data["name"].strip(), "name")
        except text.UnsafeTextError as exc:
            raise forms.ValidationError(f"Give the token a name without such characters: {exc}") from None

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None
