from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring_portal", "0002_apitoken_read_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[
                    ("full", "everything its user may do"),
                    ("actions", "operator actions only"),
                    ("hostgroups", "registry writes in given host groups only"),
                ],
                default="full",
                help_text="actions: only operator actions (acknowledge, downtime, re-check, comment) besides "
                "reads; hostgroups: only registry writes of hosts, services and host groups in `hostgroups`.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="hostgroups",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="With scope hostgroups: the names of the host groups whose hosts and services it may write.",
            ),
        ),
    ]
