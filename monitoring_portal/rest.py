"""REST plumbing every app's API shares: the JSON parser, the filter backend, the pagination (all
DRF defaults), the JSON-type check of request bodies and the "a write needs a body" middleware.

Each turns input the OpenAPI schema calls invalid into a 400 naming what is wrong, where DRF's
stock classes answer 500 (a ``RecursionError`` on JSON nested a thousand deep, a database
overflow on ``?limit=100000000000000000000``) or quietly accept it (``?limit=-1`` gives the
default page, ``{"name": 0}`` stores ``"0"``, ``?enabled=yes&enabled=no`` filters on neither,
a PUT without a body creates an object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, pagination, parsers, relations, serializers, status
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF imports this module (the default parser) while defining APIView
    from rest_framework.views import APIView

#: Deepest JSON the API accepts. The deepest real payload (a bulk of hosts with custom
#: variables) is 4 levels; the bound sits far below Python's recursion limit, so neither the
#: parser nor any later walk over the data (validation, ``json.dumps`` on save) can recurse out.
MAX_JSON_DEPTH = 32

#: Largest ``offset``: far beyond any real table, and inside every database's integer range.
MAX_OFFSET = 2**31 - 1


def json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether objects/arrays in ``data`` nest deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting bound: too deep is a 400, never a ``RecursionError``."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        too_deep = exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder itself gave up (about a thousand levels)
            raise too_deep from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise too_deep
        return data


# --- request bodies: the JSON type the schema documents, nothing DRF would coerce into it ---

STRING, BOOLEAN, INTEGER, NUMBER = "a string", "a boolean (true or false)", "an integer", "a number"


def _is_json_type(value: Any, expected: str) -> bool:
    if expected == STRING:
        return isinstance(value, str)
    if expected == BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):  # JSON's true is no number, though Python's bool is an int
        return False
    if expected == INTEGER:
        return isinstance(value, int)
    return isinstance(value, int | float)


def _expected_json_type(field: serializers.Field) -> str | None:
    """The JSON type drf-spectacular documents for ``field``; None: whatever the field itself checks."""
    if isinstance(field, serializers.BooleanField):
        return BOOLEAN
    if isinstance(field, serializers.IntegerField | relations.PrimaryKeyRelatedField):
        return INTEGER
    if isinstance(field, serializers.FloatField):
        return NUMBER
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateTimeField
        | serializers.DateField
        | serializers.TimeField
        | serializers.DurationField
        | relations.SlugRelatedField
        | relations.HyperlinkedRelatedField,
    ):
        return STRING
    if isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
        kinds = {
            STRING if isinstance(key, str) else INTEGER if isinstance(key, int) else ""
            for key in field.choices
        }
        return kinds.pop() if len(kinds) == 1 and "" not in kinds else None
    return None


def json_type_errors(field: serializers.Field, value: Any) -> Any:
    """Where ``value`` (parsed JSON) has another type than ``field`` documents, as DRF's errors; None: no error.

    Walks nested serializers, lists and dicts. Shapes (a dict where a list belongs) and nulls are
    left to the fields themselves, which already refuse them; this catches only what DRF would
    coerce: ``0`` into ``"0"``, ``"yes"``/``1`` into ``True``, ``"5"``/``5.0`` into ``5``.
    """
    if value is None:
        return None
    if isinstance(field, serializers.BaseSerializer) and not isinstance(field, serializers.ListSerializer):
        if not isinstance(value, Mapping):
            return None
        nested = {
            name: error
            for name, child in field.fields.items()  # type: ignore[attr-defined]
            if not child.read_only
            and child.source != "*"
            and child.field_name in value
            and (error := json_type_errors(child, value[child.field_name])) is not None
        }
        return nested or None
    child = getattr(field, "child", None) or getattr(field, "child_relation", None)
    if child is not None and isinstance(value, list) and not isinstance(field, serializers.DictField):
        items = {
            i: error for i, item in enumerate(value) if (error := json_type_errors(child, item)) is not None
        }
        return items or None
    if isinstance(field, serializers.DictField) and isinstance(value, Mapping):
        entries = {
            k: error
            for k, item in value.items()
            if (error := json_type_errors(field.child, item)) is not None
        }
        return entries or None
    expected = _expected_json_type(field)
    if expected is None or _is_json_type(value, expected):
        return None
    return [f"Expected {expected}, not {_json_type_name(value)}."]


def _json_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


class StrictTypesMixin:
    """For a serializer that reads a JSON body: a value of another JSON type than its field's is a 400.

    DRF's fields coerce (``CharField`` takes ``0``, ``BooleanField`` takes ``"yes"`` and ``1``,
    ``IntegerField`` takes ``"5"``), so a client's type mistake would be stored as something it
    did not send, and the API would accept what its schema calls invalid. Checking here covers
    model and declared fields, list items and nested serializers alike.
    """

    def to_internal_value(self, data: Any) -> Any:
        errors = json_type_errors(self, data)  # type: ignore[arg-type]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


# --- request bodies: a write without one is a mistake, not an empty object ---

#: Methods whose API operations all take a JSON body (the schema marks it required).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequireBodyMiddleware:
    """A POST/PUT/PATCH to an API view without a body is a 400, before the view reads it.

    DRF reads a missing body as ``{}``, so a PUT without one would create or reset an object
    whose name comes from the URL. ``{}`` itself stays valid where the schema allows it. This is
    a middleware because DRF never asks a parser about an empty request; it waits for URL
    resolution so that an unknown path stays a 404 and a method the view lacks a 405.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        method = (request.method or "").lower()
        view_class = getattr(view_func, "cls", None)  # set by DRF's as_view(): pages are left alone
        if request.method not in BODY_METHODS or view_class is None or _has_body(request):
            return None
        actions = getattr(view_func, "actions", None)  # a viewset's method -> action map
        handled = method in actions if actions is not None else hasattr(view_class, method)
        if not handled:  # DRF answers 405 naming the allowed methods
            return None
        return JsonResponse({"detail": "A JSON body is required."}, status=status.HTTP_400_BAD_REQUEST)


def _has_body(request: HttpRequest) -> bool:
    # The same rule as DRF's (rest_framework.request.Request._load_stream): length 0 is no body.
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False


# --- query parameters: known ones only, each once, of the documented type ---


def check_query_parameters(
    request: Request, known: Iterable[str], multi_valued: Iterable[str] = (), booleans: Iterable[str] = ()
) -> None:
    """400 naming each query parameter an endpoint does not take, gives twice, or gives a non-boolean.

    A typo must not be ignored, and ``?enabled=true&enabled=false`` must not quietly mean one of
    them: the schema documents every parameter as single-valued unless it is an array
    (``multi_valued``). A boolean is ``true`` or ``false``, as the schema says; django-filter would
    read anything else (``yes``, ``null``) as "no filter" and answer every row.
    """
    allowed = set(known) | {"format"}
    errors: dict[str, list[str]] = {}
    for name in request.query_params:
        values = request.query_params.getlist(name)
        if name not in allowed:
            errors[name] = [f"Unknown query parameter. Known: {', '.join(sorted(allowed))}."]
        elif len(values) > 1 and name not in set(multi_valued):
            errors[name] = ["Given more than once; this parameter takes one value."]
        elif name in set(booleans) and values[-1] not in ("true", "false"):
            errors[name] = ["Expected true or false."]
    if errors:
        raise exceptions.ValidationError(errors)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter on list views only, answering 400 for parameters no filter knows or given twice."""

    # Pagination and DRF's format override are not filters but are welcome.
    allowed_parameters = frozenset({"limit", "offset", "format"})

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        # Object lookups (get_object) also pass through filter backends: filters are for lists.
        if getattr(view, "action", None) != "list":
            return queryset
        filterset_class = self.get_filterset_class(view, queryset)
        filters = dict(filterset_class.base_filters) if filterset_class else {}
        check_query_parameters(
            request,
            set(filters) | self.allowed_parameters,
            multi_valued=[
                n for n, f in filters.items() if isinstance(f, django_filters.MultipleChoiceFilter)
            ],
            booleans=[n for n, f in filters.items() if isinstance(f, django_filters.BooleanFilter)],
        )
        return super().filter_queryset(request, queryset, view)


# --- pagination ---


def _bounded_int(request: Request, name: str, low: int, high: int, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if len(request.query_params.getlist(name)) > 1:
        raise exceptions.ValidationError({name: ["Given more than once; this parameter takes one value."]})
    # ASCII digits only: int() would also take "+5", " 5", "5_0" and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise exceptions.ValidationError({name: [f"{name} must be an integer from {low} to {high}."]})
    return int(raw)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """``?limit=``/``?offset=`` with bounds: out of range or not a number is a 400 naming the parameter.

    ``limit`` is 1 to ``API_MAX_PAGE_SIZE``, ``offset`` 0 to ``MAX_OFFSET``; both bounds are in
    the OpenAPI schema.
    """

    @property
    def max_limit(self) -> int:  # type: ignore[override]  # read per request: settings may change in tests
        return int(settings.API_MAX_PAGE_SIZE)

    def get_limit(self, request: Request) -> int:
        default = min(int(self.default_limit or self.max_limit), self.max_limit)
        return _bounded_int(request, self.limit_query_param, 1, self.max_limit, default)

    def get_offset(self, request: Request) -> int:
        return _bounded_int(request, self.offset_query_param, 0, MAX_OFFSET, 0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        for parameter in parameters:
            parameter["schema"] = {**parameter["schema"], **bounds.get(parameter["name"], {})}
        return parameters
