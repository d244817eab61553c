"""The one form of the registry's object pages (groups, templates, commands, contacts, time
periods, dependencies, escalations), built from the API's serializer of the kind.

Each writable serializer field becomes a form field of the matching type, so a directive added
to a serializer shows up on its page with no page change; anything the form cannot express as a
plain input (nested lists, objects) is edited as JSON. The serializer validates, exactly as for
the API: the form only turns inputs into the JSON types the serializer expects.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext
from rest_framework import fields as drf
from rest_framework import relations as drf_relations
from rest_framework.serializers import BaseSerializer, ListSerializer

from registry.forms import NameListField, label_for
from registry.serializers import NaemonModelSerializer, OrderedTemplatesField

#: Dropped from every form: addressed by the URL, or computed.
NOT_EDITED = frozenset({"id", "url", "created_at", "updated_at"})


def _lines(value: str) -> list[str]:
    lines = [line.removesuffix("\r") for line in value.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


class _Input:
    """How one serializer field is shown and read back: to the form value, and to JSON."""

    def __init__(self, field: forms.Field, show: Any, read: Any, *, omit_empty: bool = False) -> None:
        self.field, self.show, self.read = field, show, read
        # Left empty, the key is left out of the body: the default on a create, kept on an edit.
        self.omit_empty = omit_empty


def _identity(value: Any) -> Any:
    return value


def _as_json(value: str, empty: Any) -> Any:
    try:
        return json.loads(value) if value.strip() else empty
    except ValueError as exc:
        raise forms.ValidationError(gettext("Not valid JSON: %(error)s.") % {"error": exc}) from None


def _input_for(name: str, f: Any) -> _Input:
    """The form input of one writable serializer field."""
    common: dict[str, Any] = {
        "label": label_for(name),
        "help_text": f.help_text or "",
        "required": f.required,
    }
    if isinstance(f, OrderedTemplatesField):
        common["help_text"] = gettext("Template names, comma-separated, in order (the first wins).")
        return _Input(NameListField(f.queryset, ordered=True, **common), _identity, _identity)
    if isinstance(f, drf_relations.ManyRelatedField):
        child: Any = f.child_relation
        # Names with suggestions (autocomplete.js), not a Ctrl-click multi-select.
        common["help_text"] = (
            f"{common['help_text']} {gettext('Names, comma-separated (suggested as you type).')}"
        ).strip()
        return _Input(
            NameListField(
                child.queryset,
                slug=child.slug_field,
                **{**common, "required": f.required and not f.allow_empty},
            ),
            _identity,
            _identity,
        )
    if isinstance(f, drf_relations.SlugRelatedField):
        reference: Any = f  # django-stubs confuse DRF's queryset attribute with a manager's
        slug: str = reference.slug_field
        queryset: Any = reference.queryset
        return _Input(
            forms.ModelChoiceField(
                queryset.order_by(slug),
                to_field_name=slug,
                **{**common, "required": f.required and not f.allow_null},
            ),
            _identity,
            lambda v: getattr(v, slug) if v is not None else None,
        )
    if isinstance(f, drf.BooleanField):
        if f.allow_null:
            # Unset: inherited (from templates, then Naemon's default).
            return _Input(forms.NullBooleanField(**{**common, "required": False}), _identity, _identity)
        return _Input(forms.BooleanField(**{**common, "required": False}), _identity, bool)
    if isinstance(f, drf.ChoiceField):
        choices = [("", "—")] if not f.required or f.allow_blank or f.allow_null else []
        choices += [(k, v) for k, v in f.choices.items() if k != ""]
        empty = None if f.allow_null else ""
        return _Input(
            forms.ChoiceField(choices=choices, **common), _identity, lambda v: v if v != "" else empty
        )
    if isinstance(f, drf.IntegerField | drf.FloatField):
        kind: Any = forms.IntegerField if isinstance(f, drf.IntegerField) else forms.FloatField
        bounds: dict[str, Any] = {"min_value": f.min_value, "max_value": f.max_value}
        return _Input(
            kind(**bounds, **common),
            _identity,
            _identity,
            omit_empty=not f.allow_null,
        )
    if isinstance(f, drf.DictField) and isinstance(f.child, drf.CharField):
        common["help_text"] = f"{common['help_text']} {gettext('One per line: key=value.')}".strip()
        return _Input(
            forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 4}), **common),
            lambda v: "\n".join(f"{k}={x}" for k, x in (v or {}).items()),
            _dict_lines,
        )
    if isinstance(f, drf.ListField) and isinstance(f.child, drf.CharField | drf.IntegerField):
        number = isinstance(f.child, drf.IntegerField)
        common["help_text"] = f"{common['help_text']} {gettext('One per line.')}".strip()
        return _Input(
            forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 3}), **common),
            lambda v: "\n".join(str(x) for x in v or []),
            (lambda v: _numbers(_lines(v))) if number else _lines,
        )
    if isinstance(f, drf.ListField | drf.DictField | drf.JSONField | BaseSerializer):
        # Nested lists and objects (e.g. a time period's exceptions): JSON, as the API takes them.
        common["help_text"] = f"{common['help_text']} {gettext('JSON, as in the API.')}".strip()
        nothing: Any = [] if isinstance(f, drf.ListField | ListSerializer) else {}
        if not isinstance(f, drf.ListField | drf.DictField | ListSerializer):
            nothing = None
        return _Input(
            forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 4}), **common),
            lambda v: json.dumps(v, indent=2) if v not in (None, "", [], {}) else "",
            lambda v: _as_json(v, nothing),
        )
    # Text, and references written as text (a service as host/description).
    long = isinstance(f, drf.CharField) and (f.max_length is None or f.max_length > 255)
    widget = forms.Textarea(attrs={"rows": 2}) if long else forms.TextInput
    blank = None if f.allow_null and not getattr(f, "allow_blank", False) else ""
    return _Input(
        forms.CharField(strip=False, max_length=getattr(f, "max_length", None), widget=widget, **common),
        lambda v: v if v is not None else "",
        lambda v: v if v != "" else blank,
    )


def _dict_lines(value: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _lines(value):
        if "=" not in line:
            raise forms.ValidationError(gettext("Expected key=value, got %(line)s.") % {"line": repr(line)})
        key, item = line.split("=", 1)
        found[key] = item
    return found


def _numbers(lines: list[str]) -> list[int]:
    try:
        return [int(line) for line in lines]
    except ValueError:
        raise forms.ValidationError(gettext("Expected whole numbers, one per line.")) from None


class SerializerForm(forms.Form):
    """A form with the writable fields of ``serializer_class``; valid means the serializer accepts it.

    ``serializer`` holds the validated serializer for registry/writes.py. An edit is a PATCH of
    every field the form shows (so what the serializer has and the form cannot show stays).
    """

    def __init__(
        self,
        data: Any = None,
        *,
        serializer_class: type[NaemonModelSerializer],
        instance: Any,
        request: HttpRequest,
    ) -> None:
        self.serializer_class = serializer_class
        self.instance = instance
        self.request = request
        self.serializer: NaemonModelSerializer | None = None
        self.denied = False
        context = {"request": request}
        current = serializer_class(instance, context=context).data if instance is not None else {}
        self.inputs: dict[str, _Input] = {}
        for name, f in serializer_class(context=context).fields.items():
            if f.read_only or name in NOT_EDITED:
                continue
            self.inputs[name] = _input_for(name, f)
        super().__init__(
            data,
            initial={n: i.show(current[n]) for n, i in self.inputs.items() if n in current},
        )
        for name, one in self.inputs.items():
            self.fields[name] = one.field
            widget = one.field.widget
            if one.field.required:
                # The page marks it too (a "*" and the legend); screen readers hear this.
                widget.attrs["aria-required"] = "true"
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            else:
                widget.attrs.setdefault(
                    "class", "form-select" if isinstance(widget, forms.Select) else "form-control"
                )
        if instance is not None and "name" in self.fields:
            # Names address objects (URLs, references): renamed through the API's PATCH only.
            self.fields["name"].disabled = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        body: dict[str, Any] = {}
        for name, one in self.inputs.items():
            if name not in cleaned or self.fields[name].disabled:
                continue
            if cleaned[name] is None and one.omit_empty:
                continue
            try:
                body[name] = one.read(cleaned[name])
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        if self.errors:
            return cleaned
        self._validate(body)
        return cleaned

    def _validate(self, body: dict[str, Any]) -> None:
        serializer = self.serializer_class(
            self.instance,
            data=body,
            partial=self.instance is not None,
            context={"request": self.request},
        )
        try:
            valid = serializer.is_valid()
        except PermissionDenied as exc:
            # A check only staff pass (e.g. placing a host group on a poller): the page answers 403.
            self.denied = True
            self.add_error(None, str(exc))
            return
        if valid:
            self.serializer = serializer
            return
        for field, problems in serializer.errors.items():
            target = field if field in self.fields and not self.fields[field].disabled else None
            for message in _flat(problems):
                self.add_error(target, message if target else f"{field}: {message}")


def _flat(problems: Any, prefix: str = "") -> list[str]:
    """Serializer errors (lists, or dicts for items and keys) as lines of text."""
    if isinstance(problems, dict):
        return [m for key, sub in problems.items() for m in _flat(sub, f"{prefix}{key}: ")]
    if isinstance(problems, list):
        return [m for sub in problems for m in _flat(sub, prefix)]
    return [f"{prefix}{problems}"]
