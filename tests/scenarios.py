"""Shared scenarios: small registries that many tests start from, built with tests/factories.py."""

from __future__ import annotations

from typing import Any

from monitoring_portal.models import Team
from registry.models import Host, Service
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from tests.factories import (
    CommandFactory,
    ContactFactory,
    ContactGroupFactory,
    HostFactory,
    HostGroupFactory,
    HostTemplateFactory,
    NaemonNodeFactory,
    PollerFactory,
    ServiceFactory,
    ServiceGroupFactory,
    ServiceTemplateFactory,
    TimePeriodFactory,
)


class Site:
    """A small registry: master1; web on poller1 (team web), db on poller2 (team db)."""

    def __init__(self, web_team: Team, db_team: Team) -> None:
        self.master = NaemonNodeFactory.create(name="master1")
        self.poller1 = PollerFactory.create(name="poller1")
        self.poller2 = PollerFactory.create(name="poller2")
        self.spare = PollerFactory.create(name="spare")
        self.web = HostGroupFactory.create(name="web", team=web_team, node=self.poller1)
        self.db = HostGroupFactory.create(name="db", team=db_team, node=self.poller2)
        self.web_extra = HostGroupFactory.create(name="web-extra", team=web_team)
        self.shared = HostGroupFactory.create(name="shared")
        self.web_services = ServiceGroupFactory.create(name="web-services", team=web_team)
        self.check_host_alive = CommandFactory.create(
            name="check-host-alive", command_line="$USER1$/check_ping -H $HOSTADDRESS$"
        )
        self.check_http = CommandFactory.create(
            name="check_http", command_line="$USER1$/check_http -H $HOSTADDRESS$ -p $ARG1$"
        )
        self.unused_command = CommandFactory.create(name="check-unused")
        self.period = TimePeriodFactory.create(name="24x7")
        self.unused_period = TimePeriodFactory.create(name="unused-period")
        # Every host and service resolves what Naemon requires (max_check_attempts, a check command).
        self.generic_host = HostTemplateFactory.create(
            name="generic-host", check_command=self.check_host_alive, max_check_attempts=3
        )
        self.linux_host = HostTemplateFactory.create(name="linux-host")
        self.generic_service = ServiceTemplateFactory.create(name="generic-service", max_check_attempts=3)
        self.unused_service_template = ServiceTemplateFactory.create(name="unused-service")
        self.contact = ContactFactory.create(name="oncall")
        self.contact_group = ContactGroupFactory.create(name="admins")
        self.contact_group.members.add(self.contact)
        self.web01 = HostFactory.create(
            name="web01", team=web_team, hostgroups=[self.web], templates=[self.generic_host]
        )
        self.http = ServiceFactory.create(
            description="HTTP",
            host=self.web01,
            check_command=self.check_http,
            check_command_args=["80"],
            templates=[self.generic_service],
        )
        self.db01 = HostFactory.create(
            name="db01", team=db_team, hostgroups=[self.db], templates=[self.generic_host]
        )
        self.load = ServiceFactory.create(
            description="Load",
            host=None,
            hostgroups=[self.web],
            check_command=self.check_host_alive,
            templates=[self.generic_service],
        )


def site_relation(site: Site, route: str) -> Any:
    """A valid dependency or escalation of the site (route: ``hostdependency-detail`` ...), for tests by id.

    Dependents are web01's, or on ``central``, a host on the masters only (a poller's object may
    depend only on what that poller holds: registry/relations.py).
    """
    central = Host.objects.filter(name="central").first() or HostFactory.create(
        name="central", templates=[site.generic_host]
    )
    queue = Service.objects.filter(host=central, description="Queue").first() or ServiceFactory.create(
        description="Queue",
        host=central,
        check_command=site.check_host_alive,
        templates=[site.generic_service],
    )
    kind = route.removesuffix("-detail")
    relation: Any
    if kind == "hostdependency":
        return HostDependency.objects.create(host=central, master_host=site.web01)
    if kind == "servicedependency":
        return ServiceDependency.objects.create(service=queue, master_service=site.http)
    if kind == "hostescalation":
        relation = HostEscalation.objects.create(host=site.web01, first_notification=2)
    else:
        relation = ServiceEscalation.objects.create(service=site.http, first_notification=2)
    relation.contacts.add(site.contact)
    return relation
