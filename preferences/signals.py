"""Publishing on change: a rule, profile or contact saved or deleted reaches the nodes' snapshots.

Receivers rather than calls in the API: admin edits, cascades (a deleted user) and contacts
(re)linked to users change the snapshot too. ``PreferencesConfig.ready()`` connects them.
``rules.reorder`` publishes itself (``bulk_update`` sends no signals).

The snapshot also says which node notifies what (``preferences.tasks.cluster_part``), so the
topology's changes publish as well: nodes, host groups (their poller) and the failover's moves
(``registry.failover`` records each as a ``ClusterMove``, in the transaction that changes the
nodes' health: published after it commits).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from preferences.models import NotificationProfile, NotificationRule, Rotation, RotationOverride, Silence
from preferences.tasks import publish_on_commit
from registry.models import ClusterMove, Contact, HostGroup, NaemonNode


@receiver(post_save, sender=NotificationRule, dispatch_uid="preferences-publish-save-NotificationRule")
@receiver(post_delete, sender=NotificationRule, dispatch_uid="preferences-publish-delete-NotificationRule")
@receiver(post_save, sender=NotificationProfile, dispatch_uid="preferences-publish-save-NotificationProfile")
@receiver(
    post_delete, sender=NotificationProfile, dispatch_uid="preferences-publish-delete-NotificationProfile"
)
def preferences_changed(**kwargs: Any) -> None:
    """A user's rules or default changed: every node's snapshot after the commit."""
    publish_on_commit()


@receiver(post_save, sender=Contact, dispatch_uid="preferences-publish-contact-save")
@receiver(post_delete, sender=Contact, dispatch_uid="preferences-publish-contact-delete")
def contact_changed(**kwargs: Any) -> None:
    """A contact renamed or (un)linked to a user changes whose preferences apply to it."""
    publish_on_commit()


@receiver(post_save, sender=Silence, dispatch_uid="preferences-publish-save-Silence")
@receiver(post_delete, sender=Silence, dispatch_uid="preferences-publish-delete-Silence")
@receiver(post_save, sender=Rotation, dispatch_uid="preferences-publish-save-Rotation")
@receiver(post_delete, sender=Rotation, dispatch_uid="preferences-publish-delete-Rotation")
@receiver(post_save, sender=RotationOverride, dispatch_uid="preferences-publish-save-RotationOverride")
@receiver(post_delete, sender=RotationOverride, dispatch_uid="preferences-publish-delete-RotationOverride")
def silences_or_rotations_changed(**kwargs: Any) -> None:
    """A silence created or ended early, a rotation or override changed: every node's snapshot.

    A silence's end needs no publish: the snapshot carries it and the node's engine stops
    applying it then.
    """
    publish_on_commit()


@receiver(post_save, sender=NaemonNode, dispatch_uid="preferences-publish-node-save")
@receiver(post_delete, sender=NaemonNode, dispatch_uid="preferences-publish-node-delete")
@receiver(post_save, sender=HostGroup, dispatch_uid="preferences-publish-hostgroup-save")
@receiver(post_delete, sender=HostGroup, dispatch_uid="preferences-publish-hostgroup-delete")
def topology_changed(raw: bool = False, **kwargs: Any) -> None:
    """A node's role, priority or notifies, or a host group's poller: who notifies may change."""
    if not raw:
        publish_on_commit()


@receiver(post_save, sender=ClusterMove, dispatch_uid="preferences-publish-cluster-move")
def cluster_moved(created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    """A failover move (a node down or back): the notifications move with the next snapshot."""
    if created and not raw:
        publish_on_commit()
