from django.apps import AppConfig


class LivestatusConfig(AppConfig):
    """Live state of every Naemon node: hosts, services, problems, and operator actions."""

    name = "livestatus"
    verbose_name = "Status"
