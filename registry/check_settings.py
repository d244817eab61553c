"""The directives hosts, services and their templates share (``CheckSettings``); empty means 'inherit'.

Split from registry/models.py, which imports it; references to commands and time periods are
by model name, so this module needs nothing else of the registry's models.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from registry import validation


def _check(field: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, list[str]]:
    """{field: [message]} if ``fn`` (a registry.validation check) refuses the value, else {}."""
    try:
        fn(*args, **kwargs)
    except validation.NaemonValueError as exc:
        return {field: [str(exc)]}
    return {}


#: The directives CheckSettings adds for issue 16 (hosts, services, their templates): the one list the
#: serializers, the state loader and the forms use (a reference is named, e.g. ``event_handler``).
DIRECTIVE_FIELDS = (
    "event_handler",
    "event_handler_enabled",
    "flap_detection_enabled",
    "low_flap_threshold",
    "high_flap_threshold",
    "flap_detection_options",
    "check_freshness",
    "freshness_threshold",
    "obsess",
    "process_perf_data",
    "retain_status_information",
    "retain_nonstatus_information",
    "notes_url",
    "action_url",
    "display_name",
    "icon_image",
    "icon_image_alt",
)


class CheckSettings(models.Model):
    """Directives shared by hosts, services and their templates; empty means 'inherit'."""

    check_command = models.ForeignKey(
        "registry.Command", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    check_command_args = models.JSONField(default=list, blank=True, help_text="Values of $ARG1$, $ARG2$, …")
    check_interval = models.PositiveIntegerField(null=True, blank=True)
    retry_interval = models.PositiveIntegerField(null=True, blank=True)
    max_check_attempts = models.PositiveIntegerField(null=True, blank=True)
    check_period = models.ForeignKey(
        "registry.TimePeriod", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    active_checks_enabled = models.BooleanField(null=True, blank=True)
    passive_checks_enabled = models.BooleanField(null=True, blank=True)
    notifications_enabled = models.BooleanField(null=True, blank=True)
    notification_interval = models.PositiveIntegerField(null=True, blank=True)
    notification_period = models.ForeignKey(
        "registry.TimePeriod", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notification_options = models.CharField(max_length=20, blank=True)
    custom_variables = models.JSONField(default=dict, blank=True, help_text='{"_RACK": "B12"}')
    notes = models.CharField(max_length=1024, blank=True)
    # The rest of Naemon's per-object directives (issue 16); empty or null: inherit.
    event_handler = models.ForeignKey(
        "registry.Command",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A command staff defined; runs on every state change.",
    )
    event_handler_enabled = models.BooleanField(null=True, blank=True)
    flap_detection_enabled = models.BooleanField(null=True, blank=True)
    low_flap_threshold = models.FloatField(null=True, blank=True, help_text="Percent state change, 0-100.")
    high_flap_threshold = models.FloatField(null=True, blank=True, help_text="Percent state change, 0-100.")
    flap_detection_options = models.CharField(max_length=20, blank=True)
    check_freshness = models.BooleanField(null=True, blank=True)
    freshness_threshold = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    obsess = models.BooleanField(null=True, blank=True)
    process_perf_data = models.BooleanField(null=True, blank=True)
    retain_status_information = models.BooleanField(null=True, blank=True)
    retain_nonstatus_information = models.BooleanField(null=True, blank=True)
    notes_url = models.CharField(max_length=1024, blank=True)
    action_url = models.CharField(max_length=1024, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    icon_image = models.CharField(max_length=255, blank=True)
    icon_image_alt = models.CharField(max_length=255, blank=True)

    notification_option_letters = validation.HOST_NOTIFICATION_OPTIONS
    flap_option_letters = validation.HOST_FLAP_OPTIONS
    retry_interval_must_be_positive = False  # Naemon refuses a service's 0, not a host's

    class Meta:
        abstract = True

    def check_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not isinstance(self.check_command_args, list):
            errors["check_command_args"] = ["check_command_args must be a list of strings."]
        else:
            command = self.check_command if self.check_command_id is not None else None
            free_form = command.free_form_args if command is not None else []
            free_form = free_form if isinstance(free_form, list) else []
            for i, arg in enumerate(self.check_command_args, start=1):
                # A free-form argument is left unquoted in the command line: its value may split
                # into words and nothing more (registry.validation.check_free_form_argument).
                check = (
                    validation.check_free_form_argument
                    if i in free_form
                    else validation.check_command_argument
                )
                errors |= _check("check_command_args", check, arg, what=f"$ARG{i}$")
            if self.check_command_args and self.check_command_id is None:
                # In Naemon the arguments are part of the check_command directive ("name!arg1!arg2").
                errors["check_command_args"] = [
                    "check_command_args need a check_command here: Naemon writes them as check_command!arg1!arg2."
                ]
        errors |= _check("custom_variables", validation.check_custom_variables, self.custom_variables)
        if self.notes:
            errors |= _check("notes", validation.check_macro_value, self.notes, what="notes")
        if self.max_check_attempts is not None and self.max_check_attempts < 1:
            errors["max_check_attempts"] = ["max_check_attempts must be at least 1 (Naemon refuses 0)."]
        if self.retry_interval_must_be_positive and self.retry_interval == 0:
            errors["retry_interval"] = ["retry_interval of a service must be at least 1 (Naemon refuses 0)."]
        errors |= _check(
            "notification_options",
            validation.check_options,
            self.notification_options,
            self.notification_option_letters,
            what="notification_options",
        )
        return errors | self.directive_errors()

    def directive_errors(self) -> dict[str, list[str]]:
        """The event handler, flap, freshness, notes and display directives, checked as the core would."""
        thresholds = validation.check_flap_thresholds(self.low_flap_threshold, self.high_flap_threshold)
        errors = {field: [why] for field, why in thresholds.items()}
        errors |= _check(
            "flap_detection_options",
            validation.check_options,
            self.flap_detection_options,
            self.flap_option_letters,
            what="flap_detection_options",
        )
        for field in ("notes_url", "action_url"):
            if getattr(self, field):
                errors |= _check(field, validation.check_url, getattr(self, field), what=field)
        # $HOSTDISPLAYNAME$ and the icon's alt text are macros: they may reach command lines.
        for field in ("display_name", "icon_image_alt"):
            if getattr(self, field):
                errors |= _check(field, validation.check_macro_value, getattr(self, field), what=field)
        if self.icon_image:
            errors |= _check("icon_image", validation.check_value, self.icon_image, what="icon_image")
        return errors
