# Dependencies and escalations (registry/relations.py); hand-written: only these four models.

import django.db.models.deletion
from django.db import migrations, models


def _relation_fields() -> list:
    return [
        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
        ("created_at", models.DateTimeField(auto_now_add=True)),
        ("updated_at", models.DateTimeField(auto_now=True)),
    ]


def _dependency_fields() -> list:
    return [
        *_relation_fields(),
        (
            "inherits_parent",
            models.BooleanField(
                default=False,
                help_text="Also depend on what the master depends on (Naemon's inherits_parent).",
            ),
        ),
        (
            "execution_failure_criteria",
            models.CharField(
                blank=True, help_text="Master states in which the dependent is not checked.", max_length=20
            ),
        ),
        (
            "notification_failure_criteria",
            models.CharField(
                blank=True, help_text="Master states in which the dependent does not notify.", max_length=20
            ),
        ),
        (
            "dependency_period",
            models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.timeperiod",
            ),
        ),
    ]


def _escalation_fields() -> list:
    return [
        *_relation_fields(),
        (
            "first_notification",
            models.PositiveIntegerField(
                help_text="The notification number (1: the first) from which the escalation applies."
            ),
        ),
        (
            "last_notification",
            models.PositiveIntegerField(
                default=0, help_text="The last notification number it applies to; 0: no last."
            ),
        ),
        (
            "notification_interval",
            models.PositiveIntegerField(
                default=0, help_text="Minutes between escalated notifications; 0: only once."
            ),
        ),
        (
            "escalation_options",
            models.CharField(blank=True, help_text="States in which it applies (empty: all).", max_length=20),
        ),
        (
            "escalation_period",
            models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.timeperiod",
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0011_node_drift"),
    ]

    operations = [
        migrations.CreateModel(
            name="HostDependency",
            fields=[
                *_dependency_fields(),
                (
                    "host",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dependencies",
                        to="registry.host",
                    ),
                ),
                (
                    "master_host",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dependents",
                        to="registry.host",
                    ),
                ),
            ],
            options={
                "ordering": ["host__name", "master_host__name", "pk"],
                "constraints": [
                    models.UniqueConstraint(fields=("host", "master_host"), name="unique_host_dependency")
                ],
            },
        ),
        migrations.CreateModel(
            name="ServiceDependency",
            fields=[
                *_dependency_fields(),
                (
                    "service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dependencies",
                        to="registry.service",
                    ),
                ),
                (
                    "master_service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dependents",
                        to="registry.service",
                    ),
                ),
            ],
            options={
                "ordering": ["service__host__name", "service__description", "pk"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("service", "master_service"), name="unique_service_dependency"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="HostEscalation",
            fields=[
                *_escalation_fields(),
                (
                    "host",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="escalations",
                        to="registry.host",
                    ),
                ),
                (
                    "contacts",
                    models.ManyToManyField(
                        blank=True, related_name="host_escalations", to="registry.contact"
                    ),
                ),
                (
                    "contact_groups",
                    models.ManyToManyField(
                        blank=True, related_name="host_escalations", to="registry.contactgroup"
                    ),
                ),
            ],
            options={"ordering": ["host__name", "first_notification", "pk"]},
        ),
        migrations.CreateModel(
            name="ServiceEscalation",
            fields=[
                *_escalation_fields(),
                (
                    "service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="escalations",
                        to="registry.service",
                    ),
                ),
                (
                    "contacts",
                    models.ManyToManyField(
                        blank=True, related_name="service_escalations", to="registry.contact"
                    ),
                ),
                (
                    "contact_groups",
                    models.ManyToManyField(
                        blank=True, related_name="service_escalations", to="registry.contactgroup"
                    ),
                ),
            ],
            options={"ordering": ["service__host__name", "service__description", "first_notification", "pk"]},
        ),
    ]
