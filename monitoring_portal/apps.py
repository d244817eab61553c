from django.apps import AppConfig


class MonitoringPortalConfig(AppConfig):
    """Accounts (teams, API tokens), auth pages and the project-wide pieces."""

    name = "monitoring_portal"
    verbose_name = "Accounts"
