from django.apps import AppConfig


class MonitoringPortalConfig(AppConfig):
    """Accounts (teams, API tokens), auth pages and the project-wide pieces."""

    name = "monitoring_portal"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # The audited models are registered once every app's models are loaded.
        from monitoring_portal import audit

        audit.register()
