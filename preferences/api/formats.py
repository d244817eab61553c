"""YAML for the preferences document (``export/``): a renderer and a parser beside JSON.

``yaml.safe_load`` / ``safe_dump`` only: a document is plain data (no tags, no objects). Keys
keep the order the document gives them (rules read top to bottom, as they are tried).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from rest_framework import exceptions, parsers, renderers

from monitoring_portal.rest import MAX_JSON_DEPTH, json_depth_exceeds


class YAMLRenderer(renderers.BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        # Error answers carry DRF's ErrorDetail (a str subclass safe_dump refuses): plain data first.
        text = yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True, default_flow_style=None)
        return text.encode("utf-8")


def _plain(data: Any) -> Any:
    """``data`` with str subclasses as str, and lists and mappings rebuilt (in their order)."""
    if isinstance(data, str):
        return str(data)
    if isinstance(data, Mapping):
        return {_plain(key): _plain(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(item) for item in data]
    return data


class _NoAliasLoader(yaml.SafeLoader):
    """Refuses anchors' aliases: a document needs none, and nested aliases ("billion laughs")
    would make any walk over the parsed data exponential."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


class YAMLParser(parsers.BaseParser):
    """``application/yaml`` (and the older ``application/x-yaml``, ``text/yaml``) bodies."""

    media_type = "application/yaml"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = yaml.load(stream.read().decode("utf-8"), Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"YAML parse error - {exc}") from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(f"YAML parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data


class LegacyYAMLParser(YAMLParser):
    media_type = "application/x-yaml"


class TextYAMLParser(YAMLParser):
    media_type = "text/yaml"
