"""Publishing on change: a rule, profile or contact saved or deleted reaches the nodes' snapshots.

Receivers rather than calls in the API: admin edits, cascades (a deleted user) and contacts
(re)linked to users change the snapshot too. ``PreferencesConfig.ready()`` connects them.
``rules.reorder`` publishes itself (``bulk_update`` sends no signals).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from preferences.models import NotificationProfile, NotificationRule
from preferences.tasks import publish_on_commit
from registry.models import Contact


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
