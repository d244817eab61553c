"""Portal users as Naemon contacts, kept in step with their profile and teams.

A portal user who is active, in a team and has an email is a contact: the portal creates one
(``managed``), named after them (checked like every Naemon name), with their email and, as
channels, the notification commands of the site's default channels (setting
``PORTAL_USER_CHANNELS``, default ``email``; ``default_lists`` says which goes to hosts and
which to services). After that the contact's commands are the user's
to change (their contact in the API); the portal only keeps its name and email equal to the
user's, and removes it when the user no longer qualifies (left every team, inactive, no email)
or is deleted. A contact people made and linked to the user is never changed: linking one to a
user who has a managed contact replaces the managed one.

Teams are contact groups of their members' contacts (registry/recipients.py), so a change of a
user's teams changes the config too. Every such change requests deployments of every enabled
node (contacts and groups go to every node), in the change's transaction: enqueued on commit.
Receivers rather than calls in views: the admin, the API, the demo loader and fixtures all
change users and teams. ``RegistryConfig.ready()`` connects them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from monitoring_portal.models import Team
from registry import tasks, validation
from registry.models import Command, Contact, NaemonNode

logger = logging.getLogger(__name__)


def default_commands() -> list[Command]:
    """The notification commands of the default channels (setting ``PORTAL_USER_CHANNELS``)."""
    channels = [c for c in settings.PORTAL_USER_CHANNELS if c]
    return list(Command.objects.filter(channel__in=channels).order_by("name")) if channels else []


def default_lists(commands: list[Command]) -> tuple[list[Command], list[Command]]:
    """A new contact's (host, service) notification commands, per channel.

    A channel with both kinds of command (Naemon's stock notify-host-by-email and
    notify-service-by-email) gives each list its kind: a command line with a ``$SERVICE...$``
    macro is for services, one without for hosts. A channel with one kind only (a command
    written for both) gives it to both lists. Either way each notification is sent once a channel.
    """
    hosts: list[Command] = []
    services: list[Command] = []
    for channel in sorted({c.channel for c in commands}):
        mine = [c for c in commands if c.channel == channel]
        for_services = [c for c in mine if "$SERVICE" in c.command_line]
        for_hosts = [c for c in mine if "$SERVICE" not in c.command_line]
        if not for_services or not for_hosts:
            for_services = for_hosts = mine
        hosts += for_hosts
        services += for_services
    return hosts, services


def _qualifies(user: User) -> str:
    """Why the user cannot be a contact ('' if they can)."""
    if not user.is_active:
        return "inactive"
    if not user.teams.exists():
        return "in no team"
    if not user.email:
        return "no email"
    for check, value, what in (
        (validation.check_email, user.email, "email"),
        (validation.check_name, user.get_username(), "user name"),
    ):
        try:
            check(value, what=what)
        except validation.NaemonValueError as exc:
            return str(exc)
    return ""


def sync_user(user: User) -> bool:
    """Bring the user's contact in step with them; whether anything rendered changed."""
    contact = Contact.objects.filter(user=user).first()
    why_not = _qualifies(user)
    if why_not:
        if contact is not None and contact.managed:
            logger.info("removing contact %s of user %s: %s", contact.name, user.pk, why_not)
            contact.delete()
            return True
        return False
    name = user.get_username()
    if contact is None:
        host_commands, service_commands = default_lists(default_commands())
        if not host_commands:
            return False  # no channel to give: not a contact (yet)
        if Contact.objects.filter(name=name).exists():
            # Someone else's contact of that name: never taken over (staff may link it to the user).
            logger.warning("user %s gets no contact: a contact named %s exists", user.pk, name)
            return False
        contact = Contact.objects.create(
            name=name, user=user, email=user.email, alias=user.get_full_name(), managed=True
        )
        contact.host_notification_commands.add(*host_commands)
        contact.service_notification_commands.add(*service_commands)
        return True
    if not contact.managed:
        return False
    changed = []
    if contact.email != user.email:
        contact.email = user.email
        changed.append("email")
    if contact.name != name and not Contact.objects.filter(name=name).exists():
        contact.name = name
        changed.append("name")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def _deploy(reason: str) -> None:
    nodes = NaemonNode.objects.filter(enabled=True)
    if nodes.exists():
        # A signal may fire outside any transaction (a shell, a script, a test): request_deployments
        # locks the pending deployments it reuses, which needs one.
        with transaction.atomic():
            tasks.request_deployments(nodes, triggered_by="portal (users as contacts)", reason=reason[:255])


def _sync(users: Iterable[User], reason: str) -> None:
    """Sync these users; deploy when a contact changed or a team's group did (a member with a contact)."""
    changed = False
    for user in users:
        changed = sync_user(user) or changed or Contact.objects.filter(user=user).exists()
    if changed:
        _deploy(reason)


@receiver(post_save, sender=User, dispatch_uid="registry-user-contact-save")
def user_saved(instance: User, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """Email, name or active flag changed: the contact follows."""
    if raw or (update_fields is not None and set(update_fields) <= {"last_login", "password"}):
        return  # a login, a new password: nothing a contact shows
    if sync_user(instance):
        _deploy(f"contact of user {instance.get_username()}")


@receiver(pre_delete, sender=User, dispatch_uid="registry-user-contact-delete")
def user_deleted(instance: User, **kwargs: Any) -> None:
    """A deleted user's managed contact goes with them (a linked one stays, unlinked)."""
    gone = Contact.objects.filter(user=instance, managed=True).delete()[0]
    linked = Contact.objects.filter(user=instance).exists() and instance.teams.exists()
    if gone or linked:
        _deploy(f"user {instance.get_username()} deleted")


@receiver(m2m_changed, sender=Team.members.through, dispatch_uid="registry-team-members")
def team_members_changed(
    instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """Someone joined or left a team: their contact, and the team's contact group, follow."""
    if action == "pre_clear":
        # The cleared side is gone after the clear: remember whom it concerned.
        instance._registry_cleared = (
            [instance] if reverse else list(instance.members.all())  # reverse: user.teams.clear()
        )
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        users: list[User] = getattr(instance, "_registry_cleared", [])
    elif reverse:
        users = [instance]  # user.teams.add(...)
    else:
        users = list(User.objects.filter(pk__in=pk_set or ()))
    _sync(users, "team membership changed")


@receiver(post_save, sender=Team, dispatch_uid="registry-team-save")
def team_saved(instance: Team, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    """A team renamed renames its contact group."""
    if not (raw or created) and Contact.objects.filter(user__teams=instance).exists():
        _deploy(f"team {instance.name} changed")


@receiver(pre_delete, sender=Team, dispatch_uid="registry-team-pre-delete")
def team_deleting(instance: Team, **kwargs: Any) -> None:
    # Deleting a team removes its memberships without m2m_changed: remember whom it concerned.
    instance._registry_members = list(instance.members.all())  # type: ignore[attr-defined]


@receiver(post_delete, sender=Team, dispatch_uid="registry-team-delete")
def team_deleted(instance: Team, **kwargs: Any) -> None:
    """A team deleted: its group goes, and members now in no team lose their managed contact."""
    _sync(getattr(instance, "_registry_members", []), f"team {instance.name} deleted")


@receiver(post_save, sender=Command, dispatch_uid="registry-command-channel")
def command_saved(instance: Command, raw: bool = False, **kwargs: Any) -> None:
    """A command of a default channel: users get it as they would have had it from the start.

    Team members without a contact get one; managed contacts whose commands are still the
    defaults as they were without this command get the new defaults (a contact whose user
    chose other commands keeps them).
    """
    if raw or instance.channel not in settings.PORTAL_USER_CHANNELS:
        return
    commands = default_commands()
    before = default_lists([c for c in commands if c.pk != instance.pk])
    after = default_lists(commands)
    changed = False
    for contact in Contact.objects.filter(managed=True).prefetch_related(
        "host_notification_commands", "service_notification_commands"
    ):
        for attr, old, new in zip(
            ("host_notification_commands", "service_notification_commands"), before, after, strict=True
        ):
            related = getattr(contact, attr)
            if {c.pk for c in related.all()} == {c.pk for c in old} and old != new:
                related.set(new)
                changed = True
    users = User.objects.filter(is_active=True, teams__isnull=False, naemon_contact__isnull=True).distinct()
    reason = f"notification command {instance.name} of channel {instance.channel}"
    _sync(users, reason)
    if changed:
        _deploy(reason)


@receiver(pre_save, sender=Contact, dispatch_uid="registry-contact-linked")
def contact_linked(instance: Contact, raw: bool = False, **kwargs: Any) -> None:
    """A contact people made, linked to a user with a managed contact, replaces the managed one."""
    if raw or instance.managed or instance.user_id is None:
        return
    Contact.objects.filter(user_id=instance.user_id, managed=True).exclude(pk=instance.pk).delete()
