# Which registry hosts a confirmed deployment put on which node (livestatus.actions: who may act).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0004_deployment_warnings"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeployedHost",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=255)),
                (
                    "deployment",
                    models.ForeignKey(
                        blank=True,
                        help_text="The confirmed deployment that put this host there as it is (null: unknown or pruned).",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="registry.deployment",
                    ),
                ),
                (
                    "host",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="deployed_on",
                        to="registry.host",
                    ),
                ),
                (
                    "node",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deployed_hosts",
                        to="registry.naemonnode",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("node", "name"), name="unique_deployed_host")
                ],
            },
        ),
    ]
