from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Hosts, services, groups, templates, commands, contacts and Naemon nodes, and their deployments."""

    name = "registry"
    verbose_name = "Registry"
