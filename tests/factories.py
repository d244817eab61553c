"""Deterministic factories (factory_boy, no randomness) for registry objects.

Names come from sequences (``host-1``, ``host-2``…); tests that care about a name pass it.
"""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import User

from monitoring_portal.models import Team
from registry.choices import DeploymentState, NodeRole, ReloadMethod
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    ServiceUse,
    TimePeriod,
)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"team-{n}")


class NaemonNodeFactory(factory.django.DjangoModelFactory[NaemonNode]):
    """A master by default; its config goes nowhere real (reload: none)."""

    class Meta:
        model = NaemonNode

    name = factory.Sequence(lambda n: f"node-{n}")
    role = NodeRole.MASTER
    config_dir = factory.LazyAttribute(lambda o: f"/var/lib/portal-test/{o.name}/portal.d")
    main_config = factory.LazyAttribute(lambda o: f"/var/lib/portal-test/{o.name}/naemon.cfg")
    verify_command = "true"
    reload_method = ReloadMethod.NONE


class PollerFactory(NaemonNodeFactory):
    name = factory.Sequence(lambda n: f"poller-{n}")
    role = NodeRole.POLLER


class TimePeriodFactory(factory.django.DjangoModelFactory[TimePeriod]):
    class Meta:
        model = TimePeriod

    name = factory.Sequence(lambda n: f"period-{n}")
    ranges = factory.LazyFunction(lambda: {"monday": "00:00-24:00"})


class CommandFactory(factory.django.DjangoModelFactory[Command]):
    class Meta:
        model = Command

    name = factory.Sequence(lambda n: f"check-{n}")
    command_line = "$USER1$/check_ping -H $HOSTADDRESS$ -w 100,20% -c 500,60%"


def _notification_commands(attribute: str) -> Any:
    """Naemon refuses a contact without notification commands: a shared /bin/true one unless given."""

    def add(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        if extracted is None:
            extracted = [
                Command.objects.get_or_create(name="notify-true", defaults={"command_line": "/bin/true"})[0]
            ]
        getattr(obj, attribute).add(*extracted)

    return factory.PostGeneration(add)


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"contact-{n}")
    email = factory.LazyAttribute(lambda o: f"{o.name}@example.org")
    host_notification_commands = _notification_commands("host_notification_commands")
    service_notification_commands = _notification_commands("service_notification_commands")


class ContactGroupFactory(factory.django.DjangoModelFactory[ContactGroup]):
    class Meta:
        model = ContactGroup

    name = factory.Sequence(lambda n: f"contacts-{n}")


class HostGroupFactory(factory.django.DjangoModelFactory[HostGroup]):
    class Meta:
        model = HostGroup

    name = factory.Sequence(lambda n: f"hostgroup-{n}")


class ServiceGroupFactory(factory.django.DjangoModelFactory[ServiceGroup]):
    class Meta:
        model = ServiceGroup

    name = factory.Sequence(lambda n: f"servicegroup-{n}")


class HostTemplateFactory(factory.django.DjangoModelFactory[HostTemplate]):
    class Meta:
        model = HostTemplate

    name = factory.Sequence(lambda n: f"host-template-{n}")


class ServiceTemplateFactory(factory.django.DjangoModelFactory[ServiceTemplate]):
    class Meta:
        model = ServiceTemplate

    name = factory.Sequence(lambda n: f"service-template-{n}")


def _add_m2m(attribute: str) -> Any:
    def add(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            getattr(obj, attribute).add(*extracted)

    return factory.PostGeneration(add)


def _uses(through: Any, owner: str, target: str) -> Any:
    def add(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            for position, template in enumerate(extracted):
                through.objects.create(**{owner: obj, target: template, "position": position})

    return factory.PostGeneration(add)


class HostFactory(factory.django.DjangoModelFactory[Host]):
    """``HostFactory.create(hostgroups=[g], templates=[t])`` sets the relations in order."""

    class Meta:
        model = Host
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"host-{n}")
    address = factory.Sequence(lambda n: f"192.0.2.{n % 250 + 1}")
    hostgroups = _add_m2m("hostgroups")
    templates = _uses(HostUse, "host", "template")


class ServiceFactory(factory.django.DjangoModelFactory[Service]):
    class Meta:
        model = Service
        skip_postgeneration_save = True

    description = factory.Sequence(lambda n: f"Service {n}")
    host = factory.SubFactory(HostFactory)
    hostgroups = _add_m2m("hostgroups")
    templates = _uses(ServiceUse, "service", "template")


def use_templates(template: HostTemplate, *parents: HostTemplate) -> None:
    """Make a host template use others, in order."""
    for position, parent in enumerate(parents):
        HostTemplateUse.objects.create(template=template, uses=parent, position=position)


class DeploymentFactory(factory.django.DjangoModelFactory[Deployment]):
    class Meta:
        model = Deployment

    node = factory.SubFactory(NaemonNodeFactory)
    state = DeploymentState.PENDING
    triggered_by = "test"


# --- a small site, and a stand-in for the deploy task ------------------------------------


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


class FakeDeployTask:
    """Stands in for ``registry.tasks.deploy_node``: records what was enqueued.

    With ``outcome`` set, a call finishes the node's pending deployments in that state,
    as a worker would (tests that need it use ``transactional_db`` so on_commit runs).
    """

    def __init__(self) -> None:
        self.enqueued: list[tuple[int, str | None]] = []
        self.outcome: str | None = None
        self.verify_output = ""

    def apply_async(self, args: list[Any], queue: str | None = None, **kwargs: Any) -> None:
        self.enqueued.append((args[0], queue))
        if self.outcome is not None:
            from django.utils import timezone

            Deployment.objects.filter(node_id=args[0], state=DeploymentState.PENDING).update(
                state=self.outcome,
                verify_output=self.verify_output,
                started_at=timezone.now(),
                finished_at=timezone.now(),
            )


class DeployRecorder:
    """What request_deployments was asked: one entry (node names, reason) per call."""

    def __init__(self, task: FakeDeployTask) -> None:
        self.task = task
        self.calls: list[tuple[set[str], str]] = []

    @property
    def nodes(self) -> set[str]:
        return {name for names, _ in self.calls for name in names}


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def stub_deploys(monkeypatch: Any) -> DeployRecorder:
    """Record request_deployments calls and replace the deploy task by a FakeDeployTask."""
    from registry import tasks

    task = FakeDeployTask()
    # registry.tasks enqueues through its module-level deploy_node (phase B: patch apply_async).
    monkeypatch.setattr(tasks, "deploy_node", task)
    recorder = DeployRecorder(task)
    real = tasks.request_deployments

    def spy(nodes: Any, *, triggered_by: str, reason: str = "") -> list[Deployment]:
        nodes = set(nodes)
        recorder.calls.append(({n.name for n in nodes}, reason))
        return real(nodes, triggered_by=triggered_by, reason=reason)

    monkeypatch.setattr(tasks, "request_deployments", spy)
    return recorder
