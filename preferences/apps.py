from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    """Which notifications reach you: your rules, in order, and a preview of what they decide."""

    name = "preferences"
    verbose_name = "My notifications"
