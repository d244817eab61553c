"""The deployment serializer (read-only: deployments are requested by writes, not posted)."""

from __future__ import annotations

from rest_framework import serializers

from registry.models import (
    Deployment,
)


class DeploymentSerializer(serializers.ModelSerializer):
    """One attempt to bring a node to the registry's latest state, and how it ended."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:deployment-detail")
    node = serializers.SlugRelatedField(read_only=True, slug_field="name")  # type: ignore[var-annotated]
    covered_by = serializers.PrimaryKeyRelatedField(  # type: ignore[var-annotated]
        read_only=True,
        allow_null=True,  # most deployments run themselves
        help_text="The deployment whose run brought this one's changes too (coalescing); null if none.",
    )
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The verifier's warning lines: the core accepted the config, but said this about it.",
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "url",
            "node",
            "state",
            "triggered_by",
            "reason",
            "content_hash",
            "summary",
            "verify_output",
            "warnings",
            "reload_output",
            "confirmation",
            "error",
            "covered_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields
