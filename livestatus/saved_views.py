"""Saved views ("my views"): a status list's filters, sort and grouping under a name, per user.

A view is private to its user: every lookup goes through the user's own views, so another
user's view is a 404 (page and API), whoever asks. What a view holds is checked by the list's
own rules when it is saved (``check``) and the path again when it is opened (``target_url``):

- ``name``: the portal's one rule for names (``livestatus.client.text.check_name``), unique per user;
- ``path``: resolved by the portal's URL map to one of the status lists (``LISTS``), stored as
  that list's own path: a view can only ever lead to a status list here, never elsewhere;
- ``query``: parsed and validated by the list itself (``livestatus.views.list_query_errors``):
  a filter the page would refuse is refused here, naming it; ``page`` is dropped (a view is a
  list, not one of its pages), and so are empty parameters.

A user keeps at most ``MAX_PER_USER`` views: the "My views" menu is a list, not an archive.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404, QueryDict
from django.urls import Resolver404, resolve, reverse

from livestatus.client import text
from livestatus.models import SavedView
from livestatus.views import list_query_errors

MAX_PER_USER = 50
MAX_NAME = 100
MAX_QUERY = 2000
#: The status lists a view may lead to: URL name -> the list (its filters' kind).
LISTS = {
    "livestatus:index": "problems",
    "livestatus:problems": "problems",
    "livestatus:hosts": "hosts",
    "livestatus:services": "services",
}


class ViewInvalid(Exception):
    """What is wrong with a view, per field (``name``, ``path``, ``query``, ``non_field_errors``)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _list_of(path: str) -> str | None:
    """The URL name of the status list at ``path``, or None if ``path`` is not one."""
    try:
        match = resolve(path.split("?", 1)[0])
    except Resolver404:
        return None
    return match.view_name if match.view_name in LISTS and not match.kwargs else None


def check(
    user: Any, name: str, path: str, query: str, *, instance: SavedView | None = None
) -> dict[str, str]:
    """The view's fields as stored (path and query made canonical), or ``ViewInvalid``."""
    errors: dict[str, list[str]] = {}
    try:
        name = text.check_name(name, "name")
        if len(name) > MAX_NAME:
            errors["name"] = [f"name is longer than {MAX_NAME} characters."]
    except text.UnsafeTextError as exc:
        errors["name"] = [str(exc)]
    list_name = _list_of(path) if isinstance(path, str) and path.startswith("/") else None
    if list_name is None:
        errors["path"] = ["not a status list: one of " + ", ".join(sorted({reverse(n) for n in LISTS})) + "."]
    query = query.removeprefix("?")
    if len(query) > MAX_QUERY:
        errors["query"] = [f"longer than {MAX_QUERY} characters."]
    elif list_name is not None:
        data = QueryDict(query, mutable=True)
        data.pop("page", None)
        # An empty filter is no filter: the list's form sends every field, a view keeps what says something.
        for key in [key for key, values in data.lists() if not any(values)]:
            del data[key]
        problems = list_query_errors(LISTS[list_name], data)
        if problems:
            errors["query"] = [f"{field}: {' '.join(messages)}" for field, messages in problems.items()]
        query = data.urlencode()
    if "name" not in errors:
        others = SavedView.objects.filter(user=user, name=name)
        if instance is not None:
            others = others.exclude(pk=instance.pk)
        if others.exists():
            errors["name"] = [f"You already have a view named {name!r}."]
    if instance is None and SavedView.objects.filter(user=user).count() >= MAX_PER_USER:
        errors["non_field_errors"] = [f"You have {MAX_PER_USER} views already: delete one first."]
    if errors:
        raise ViewInvalid(errors)
    assert list_name is not None
    return {"name": name, "path": reverse(list_name), "query": query}


def save(user: Any, name: str, path: str, query: str, *, instance: SavedView | None = None) -> SavedView:
    """Create a view, or change ``instance``; ``ViewInvalid`` stores nothing."""
    with transaction.atomic():
        # One user's saves in a row: the limit and the unique name hold against a double click.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        fields = check(user, name, path, query, instance=instance)
        view = instance or SavedView(user=user)
        for key, value in fields.items():
            setattr(view, key, value)
        view.save()
    return view


def views_of(user: Any) -> list[SavedView]:
    """The user's views, by name."""
    return list(SavedView.objects.filter(user=user))


def target_url(view: SavedView) -> str:
    """Where the view leads: its status list with its query (a 404 if the path is no list any more)."""
    list_name = _list_of(view.path)
    if list_name is None:
        raise Http404("This view's list no longer exists.")
    return reverse(list_name) + (f"?{view.query}" if view.query else "")
