from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Hosts, services, groups, templates, commands, contacts and Naemon nodes, and their deployments."""

    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        # Portal users as contacts, kept in step with their profile and teams. Django's one
        # place to connect receivers: they import models, which apps.py loads before.
        from registry import signals  # noqa: F401
