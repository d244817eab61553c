from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    """Which notifications reach you: your rules, in order, and a preview of what they decide."""

    name = "preferences"
    verbose_name = "My notifications"

    def ready(self) -> None:
        # Django's one place to connect receivers: apps.py loads before any model, so the
        # receivers (which import models and tasks) cannot be imported at its top.
        from preferences import signals  # noqa: F401
