"""What every registry serializer shares: the base serializer, name references, ordered
template uses, check settings, and the representation helpers behind ETags and change detection."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import APIException

from monitoring_portal import audit
from monitoring_portal.rest import StrictTypesMixin
from registry import validation
from registry.check_settings import DIRECTIVE_FIELDS
from registry.choices import NodeRole
from registry.directives import REQUIRED_DIRECTIVES, left_without_directives, missing_directives
from registry.models import (
    Command,
    Host,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    NaemonNode,
    Service,
    ServiceTemplate,
    ServiceTemplateUse,
    ServiceUse,
    TimePeriod,
)

# Never part of "did the config change?": links and timestamps.
VOLATILE_KEYS = frozenset({"url", "created_at", "updated_at"})
# Stored, but not rendered into Naemon config: a change to these alone deploys nothing.
NOT_CONFIG_KEYS = frozenset({"expires_at", "lease"})


class Conflict(APIException):
    status_code = 409
    default_detail = "The object is in use."
    default_code = "conflict"


# --- ordered "use" of templates -------------------------------------------------------------

# owner model -> (through model, owner field, template field)
USES: dict[type[models.Model], tuple[type[models.Model], str, str]] = {
    Host: (HostUse, "host", "template"),
    Service: (ServiceUse, "service", "template"),
    HostTemplate: (HostTemplateUse, "template", "uses"),
    ServiceTemplate: (ServiceTemplateUse, "template", "uses"),
}


def prefetch_uses(objects: Iterable[models.Model]) -> None:
    """Load the ordered template names of many objects with one query per kind."""
    by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
    for obj in objects:
        if type(obj) in USES and not hasattr(obj, "_ordered_uses"):
            by_model[type(obj)].append(obj)
    for model, objs in by_model.items():
        through, owner, target = USES[model]
        names: dict[int, list[str]] = defaultdict(list)
        rows = (
            through._default_manager.filter(**{f"{owner}__in": objs})
            .order_by(owner, "position", "pk")
            .values_list(f"{owner}_id", f"{target}__name")
        )
        for owner_id, name in rows:
            names[owner_id].append(name)
        for obj in objs:
            obj._ordered_uses = names.get(obj.pk, [])  # type: ignore[attr-defined]


def uses_of(obj: models.Model) -> list[str]:
    """Names of the templates an object uses, in order."""
    prefetch_uses([obj])
    return list(obj._ordered_uses)  # type: ignore[attr-defined]


def set_uses(obj: models.Model, templates: Sequence[models.Model], *, created: bool = False) -> None:
    """Replace the ordered templates of an object (and audit the change: bulk_create sends no signal).

    ``created``: the object was inserted in this write, so it uses nothing yet (no read, no delete).
    """
    through, owner, target = USES[type(obj)]
    before: list[str] = []
    if not created:
        before = list(
            through._default_manager.filter(**{owner: obj})
            .order_by("position")
            .values_list(f"{target}__name", flat=True)
        )
    audit.record_list_change(obj, "templates", before, [t.name for t in templates])  # type: ignore[attr-defined]
    if not created:
        through._default_manager.filter(**{owner: obj}).delete()
    through._default_manager.bulk_create(
        [through(**{owner: obj, target: template, "position": i}) for i, template in enumerate(templates)]
    )
    if hasattr(obj, "_ordered_uses"):
        del obj._ordered_uses


class OrderedTemplatesField(serializers.ListField):
    """Template names in order (Naemon's ``use``: the first listed wins)."""

    def __init__(self, queryset: QuerySet[Any], **kwargs: Any) -> None:
        self.queryset = queryset
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Template names, in order: the first listed wins.")
        super().__init__(child=serializers.CharField(trim_whitespace=False), **kwargs)

    def get_attribute(self, instance: models.Model) -> list[str]:
        return uses_of(instance)

    def to_representation(self, data: list[str]) -> list[str]:
        return list(data)

    def to_internal_value(self, data: Any) -> list[models.Model]:
        names = super().to_internal_value(data)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise serializers.ValidationError(f"Template listed twice: {', '.join(duplicates)}.")
        found = {t.name: t for t in self.queryset.filter(name__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise serializers.ValidationError(f"No such template: {', '.join(missing)}.")
        return [found[n] for n in names]


class UsesListSerializer(serializers.ListSerializer):
    """Lists load the ordered templates of all their items (and nested services) at once."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if isinstance(data, models.Manager | QuerySet) else data)
        prefetch_uses(items)
        child: Any = self.child
        nested = getattr(child, "nested_objects", None)
        if nested is not None:
            prefetch_uses(nested(items))
        return [child.to_representation(item) for item in items]


def by_name(queryset: QuerySet[Any], what: str, **kwargs: Any) -> serializers.SlugRelatedField:
    """A related object referenced by its name."""
    kwargs.setdefault("required", False)
    if not kwargs.get("many"):
        kwargs.setdefault("allow_null", True)
    return serializers.SlugRelatedField(
        slug_field=kwargs.pop("slug_field", "name"),
        queryset=queryset,
        error_messages={"does_not_exist": f"No {what} named {{value}}.", "invalid": "Expected a name."},
        **kwargs,
    )


# --- representations, ETags, change detection ---------------------------------------------


def plain(data: Any) -> Any:
    """JSON-compatible copy of serializer output (dates as strings)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


# Not part of an ETag: absolute links change with the Host header and scheme a client used.
ETAG_IGNORED_KEYS = frozenset({"url", "deployments", "deployment_results"})


def etag_of(data: Any) -> str:
    """A strong ETag: the hash of the object's representation, links left out."""
    encoded = json.dumps(
        _without(data, ETAG_IGNORED_KEYS), cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")
    )
    return '"' + hashlib.sha256(encoded.encode()).hexdigest()[:32] + '"'


def _without(data: Any, keys: frozenset[str]) -> Any:
    if isinstance(data, dict):
        return {k: _without(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [_without(v, keys) for v in data]
    return data


def stored_state(data: Any) -> Any:
    """What a write can change in the database (links and timestamps left out)."""
    return _without(data, VOLATILE_KEYS)


def config_state(data: Any) -> Any:
    """What the renderer turns into Naemon config (the lease left out too)."""
    return _without(data, VOLATILE_KEYS | NOT_CONFIG_KEYS)


def _canonical(value: Any) -> str:
    # JSON text, not Python ==: True == 1 and 1 == 1.0, but a body that sends true for a
    # number must still reach validation (and its 400).
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))


# Types whose == is their JSON text's equality when both sides have the same one (floats are not:
# -0.0 == 0.0 and nan != nan, where the texts say the opposite).
_EXACT = (str, int, bool, type(None))


def _same(a: Any, b: Any) -> bool:
    """``_canonical(a) == _canonical(b)``, without the JSON text where the types settle it.

    A bulk re-send of 1,000 hosts compares about 150,000 values: dumping each took half its time.
    """
    kind = type(a)
    if kind is type(b):
        if kind in _EXACT:
            return bool(a == b)
        if kind is list and all(type(x) is str for x in a) and all(type(y) is str for y in b):
            return bool(a == b)
    return _canonical(a) == _canonical(b)


#: (serializer class, field name) -> _absent_canonical's text, for fields whose default is fixed.
_ABSENT: dict[tuple[type, str], str] = {}


def _absent_canonical(
    serializer: serializers.Serializer[Any], name: str, field: serializers.Field, model: Any
) -> str:
    """The JSON text of what a PUT gives ``field`` when its body leaves it out.

    The same for every object of a kind unless the serializer's default is computed (a callable,
    e.g. from the request): those are worked out each time, the others once per process.
    """
    fixed = field.default is serializers.empty or not callable(field.default)
    key = (type(serializer), name)
    if fixed and key in _ABSENT:
        return _ABSENT[key]
    text = _canonical(_absent_value(field, model))
    if fixed:
        _ABSENT[key] = text
    return text


def _absent_value(field: serializers.Field, model: Any) -> Any:
    """The representation a PUT gives a writable field its body left out (``replace_defaults``)."""
    if field.default is not serializers.empty:
        value = field.get_default()
    else:
        model_field = model._meta.get_field(field.source)
        if model_field.many_to_many:
            return []
        value = model_field.get_default()
    return None if value is None else plain(field.to_representation(value))


def body_matches(serializer: NaemonModelSerializer, body: Any, before: Any, *, partial: bool) -> bool:
    """Would writing ``body`` leave the object as ``before`` (its stored representation)? Raw body, no queries.

    A re-send of what is stored is answered without validating, locking or writing. Conservative:
    False whenever in doubt (a key that is not a plain writable field, a write-only field set, a
    value that validation might normalise); the caller then takes the full write path, which
    validates and compares again after saving.
    """
    if not isinstance(body, dict) or not isinstance(before, dict):
        return False
    model = serializer.Meta.model
    for name, field in serializer.fields.items():
        if field.read_only:
            if name in body:
                return False  # DRF would ignore it; let the full path decide what that means
            continue
        if field.write_only:
            # Options of the write itself (a lease, notify_me, adopt): only their default is no change.
            if name in body and body[name] is not None and body[name] is not False:
                return False
            continue
        if name not in body:
            if partial or name in serializer.keep_when_absent:
                continue
            if field.required:
                return False  # validation's 400 to give
            try:
                expected = _absent_canonical(serializer, name, field, model)
            except FieldDoesNotExist:
                return False
            if expected != _canonical(before.get(name)):
                return False
            continue
        if not _value_matches(field, body[name], before.get(name)):
            return False
    return all(name in serializer.fields for name in body) and serializer.extra_unchanged(
        body, before, partial
    )


def _value_matches(field: serializers.Field, sent: Any, stored: Any) -> bool:
    if isinstance(field, serializers.ListSerializer):
        child = field.child
        key = child.natural_key if isinstance(child, NaemonModelSerializer) else None
        if key is None or not isinstance(sent, list) or not isinstance(stored, list):
            return False
        by_key = {item.get(key): item for item in stored}
        sent_keys = [item.get(key) if isinstance(item, dict) else None for item in sent]
        if len(set(sent_keys)) != len(sent) or set(sent_keys) != set(by_key) or len(by_key) != len(stored):
            return False
        assert isinstance(child, NaemonModelSerializer)
        return all(
            body_matches(child, item, by_key[k], partial=False)
            for item, k in zip(sent, sent_keys, strict=True)
        )
    if (
        isinstance(field, serializers.ManyRelatedField)
        and isinstance(sent, list)
        and isinstance(stored, list)
    ):
        # A plain to-many relation is a set: the stored order is the database's, not the client's.
        if not all(isinstance(v, str) for v in sent):
            return False
        return sorted(sent) == sorted(stored) and len(set(sent)) == len(sent)
    return _same(sent, stored)


def masters() -> set[NaemonNode]:
    return set(NaemonNode.objects.filter(enabled=True, role=NodeRole.MASTER))


def every_node() -> set[NaemonNode]:
    return set(NaemonNode.objects.filter(enabled=True))


# --- the base serializer ------------------------------------------------------------------


class NaemonModelSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """JSON types as documented, untrimmed strings, natural keys, Naemon checks, replace semantics for PUT."""

    # Fields a PUT leaves alone when they are absent from the body.
    keep_when_absent: frozenset[str] = frozenset()
    # What identifies an item of a list of these nested in another object (compared by it).
    natural_key = "name"

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[type, dict[str, Any]]:
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.CharField):
            # A trailing newline must be refused, not silently trimmed away.
            field_kwargs["trim_whitespace"] = False
        return field_class, field_kwargs

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        """Nodes whose rendered config contains this object (default: all of them)."""
        return every_node()

    @classmethod
    def nodes_after_delete(cls, obj: Any) -> set[NaemonNode]:
        """Nodes to deploy when this object is deleted."""
        return cls.affected_nodes(obj)

    def validate_name(self, value: str) -> str:
        if "/" in value:
            raise serializers.ValidationError(
                "name must not contain '/': objects are addressed by name in URLs."
            )
        return value

    def extra_unchanged(self, body: dict[str, Any], before: dict[str, Any], partial: bool) -> bool:
        """``body_matches``: what else a write of ``body`` changes besides its fields (none here)."""
        return True

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        """Checks beyond the model's own (relations, placement, cycles)."""
        return {}

    def required_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        """What the core refuses the object without (also for items embedded in another object)."""
        return {}

    def related_after(self, attrs: dict[str, Any], key: str) -> list[Any]:
        """A to-many relation as it will be: from the body, else (PATCH) as stored, else empty."""
        if key in attrs:
            return list(attrs[key])
        if self.instance is not None and self.partial:
            return list(getattr(self.instance, key).all())
        return []

    @property
    def model(self) -> Any:
        return self.Meta.model

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model = self.model
        # PATCH checks the object as it will be; PUT and POST check a fresh object (replace).
        candidate = copy.copy(self.instance) if self.instance is not None and self.partial else model()
        if self.instance is not None:
            candidate.pk = self.instance.pk
        concrete = {f.name for f in model._meta.concrete_fields}
        for key, value in attrs.items():
            if key in concrete:
                setattr(candidate, key, value)
        errors = candidate.naemon_errors()
        for key, messages in self.extra_errors(candidate, attrs).items():
            errors.setdefault(key, []).extend(messages)
        if not errors:
            errors = self.required_errors(candidate, attrs)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def replace_defaults(self) -> dict[str, Any]:
        """Values of the writable fields a PUT body left out."""
        defaults: dict[str, Any] = {}
        opts = self.model._meta
        for name, f in self.fields.items():
            source = f.source or name
            if f.read_only or name in self.keep_when_absent:
                continue
            try:
                model_field = opts.get_field(source)
            except FieldDoesNotExist:
                continue
            defaults[source] = [] if model_field.many_to_many else model_field.get_default()
        return defaults

    def _split(self, validated_data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        opts = self.model._meta
        own: dict[str, Any] = {}
        relations: dict[str, Any] = {}
        for key, value in validated_data.items():
            try:
                is_m2m = opts.get_field(key).many_to_many
            except FieldDoesNotExist:
                continue
            (relations if is_m2m else own)[key] = value
        return own, relations

    def _save_relations(self, instance: Any, relations: dict[str, Any], *, created: bool = False) -> None:
        for key, value in relations.items():
            if isinstance(self._field_by_source(key), OrderedTemplatesField):
                set_uses(instance, value, created=created)
            elif created:
                # A new object has no links yet: set() would first read them (same signals, one query less).
                getattr(instance, key).add(*value)
            else:
                getattr(instance, key).set(value)

    def _field_by_source(self, source: str) -> Any:
        # The declared fields, not ``self.fields``: building those deep-copies every field, and the
        # nested service serializers a host write creates would each pay for it (issue 19).
        return next((f for name, f in self._declared_fields.items() if (f.source or name) == source), None)

    def read_back(self, queryset: QuerySet[Any], instance: Any) -> Any:
        """``instance`` as stored after this serializer's write, with what its representation reads."""
        return queryset.get(pk=instance.pk)

    def represent(self, instance: Any) -> Any:
        """``instance`` as plain JSON, with this serializer's own fields (building another set costs ms).

        A write represents its object before and after the change with one serializer: what a
        representation caches (``recipients``) is dropped first, and it is of ``instance``.
        """
        shown = self.instance
        self.instance = instance
        self.__dict__.pop("_recipients", None)
        try:
            return plain(self.to_representation(instance))
        finally:
            self.instance = shown
            self.__dict__.pop("_recipients", None)

    def create(self, validated_data: dict[str, Any]) -> Any:
        own, relations = self._split(validated_data)
        instance = self.model(**own)
        instance.save()
        self._save_relations(instance, relations, created=True)
        return instance

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        if not self.partial:
            validated_data = {**self.replace_defaults(), **validated_data}
        own, relations = self._split(validated_data)
        for key, value in own.items():
            setattr(instance, key, value)
        instance.save()
        self._save_relations(instance, relations)
        return instance


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(trim_whitespace=False, **kwargs)


class CheckSettingsSerializer(NaemonModelSerializer):
    """Directives shared by hosts, services and templates; empty or null means 'inherit'."""

    check_command = by_name(Command.objects.all(), "command")
    check_command_args = serializers.ListField(
        child=_text(allow_blank=True),
        required=False,
        help_text="Values of $ARG1$, $ARG2$, …: one line each, no '!', ';' or '$'.",
    )
    check_period = by_name(TimePeriod.objects.all(), "time period")
    notification_period = by_name(TimePeriod.objects.all(), "time period")
    event_handler = by_name(Command.objects.all(), "command")
    custom_variables = serializers.DictField(
        child=_text(allow_blank=True),
        required=False,
        help_text='Custom variables, e.g. {"_RACK": "B12"}; names are upper-cased as Naemon does.',
    )

    check_fields = [
        "check_command",
        "check_command_args",
        "check_interval",
        "retry_interval",
        "max_check_attempts",
        "check_period",
        "active_checks_enabled",
        "passive_checks_enabled",
        "notifications_enabled",
        "notification_interval",
        "notification_period",
        "notification_options",
        "custom_variables",
        "notes",
        # Issue 16's directives (registry/check_settings.py); validated by the model's naemon_errors().
        *DIRECTIVE_FIELDS,
    ]

    def required_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        if isinstance(candidate, HostTemplate | ServiceTemplate):
            broken = left_without_directives(candidate, self.related_after(attrs, "parents"))
            return {
                directive: [
                    f"{', '.join(names)} would be left without {directive} (not set on them, nor through "
                    "their other templates), which Naemon refuses."
                ]
                for directive, names in broken.items()
            }
        kind = "host" if isinstance(candidate, Host) else "service"
        templates = self.related_after(attrs, "templates")
        # Set on the object or on a template it names (loaded by validation): nothing to look up.
        # Only otherwise are the templates they use read (the usual write never reads them).
        if all(
            getattr(candidate, f) is not None or any(getattr(t, f) is not None for t in templates)
            for f in REQUIRED_DIRECTIVES[kind]
        ):
            return {}
        # One load of the templates per request (a bulk write checks many hosts and services).
        chains = self.context.setdefault("_template_chains", {}) if isinstance(self.context, dict) else None
        missing = missing_directives(candidate, templates, chains)
        return {
            directive: [
                f"Naemon refuses a {kind} without {directive}: set it here or in one of its templates."
            ]
            for directive in missing
        }

    def validate_custom_variables(self, value: dict[str, str]) -> dict[str, str]:
        try:
            return validation.check_custom_variables(value)
        except validation.NaemonValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_notification_options(self, value: str) -> str:
        letters = self.model.notification_option_letters
        try:
            return validation.check_options(value, letters, what="notification_options")
        except validation.NaemonValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


def _select_check_settings() -> list[str]:
    return ["check_command", "check_period", "notification_period", "event_handler"]
