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
