from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Hosts, services, groups, templates, commands, contacts and Naemon nodes, and their deployments."""

    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        # Portal users as contacts, kept in step with their profile and teams. Django's one
        # place to connect receivers: they import models, which apps.py loads before.
        # Dependencies and escalations: their own module, imported here rather than from
        # registry/models.py, which it imports (a models <-> relations cycle the linter refuses).
        from monitoring_portal import audit
        from registry import relations, signals  # noqa: F401

        # Who changed a dependency or an escalation (the other registry models: audit.TRACKED).
        for model in ("HostDependency", "ServiceDependency"):
            audit.track(f"registry.{model}")
        for model in ("HostEscalation", "ServiceEscalation"):
            audit.track(f"registry.{model}", m2m_fields={"contacts", "contact_groups"})
