"""Issue 16: the rest of Naemon's per-object directives on hosts, services and their templates."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0012_dependencies_escalations"),
    ]

    operations = [
        migrations.AddField(
            model_name="host",
            name="event_handler",
            field=models.ForeignKey(
                blank=True,
                help_text="A command staff defined; runs on every state change.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.command",
            ),
        ),
        migrations.AddField(
            model_name="host",
            name="event_handler_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="flap_detection_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="low_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="high_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="flap_detection_options",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="host",
            name="check_freshness",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="freshness_threshold",
            field=models.PositiveIntegerField(blank=True, help_text="Seconds.", null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="obsess",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="process_perf_data",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="retain_status_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="retain_nonstatus_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="host",
            name="notes_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="host",
            name="action_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="host",
            name="display_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="host",
            name="icon_image",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="host",
            name="icon_image_alt",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="event_handler",
            field=models.ForeignKey(
                blank=True,
                help_text="A command staff defined; runs on every state change.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.command",
            ),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="event_handler_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="flap_detection_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="low_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="high_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="flap_detection_options",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="check_freshness",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="freshness_threshold",
            field=models.PositiveIntegerField(blank=True, help_text="Seconds.", null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="obsess",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="process_perf_data",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="retain_status_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="retain_nonstatus_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="notes_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="action_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="display_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="icon_image",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="hosttemplate",
            name="icon_image_alt",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="service",
            name="event_handler",
            field=models.ForeignKey(
                blank=True,
                help_text="A command staff defined; runs on every state change.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.command",
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="event_handler_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="flap_detection_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="low_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="high_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="flap_detection_options",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="service",
            name="check_freshness",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="freshness_threshold",
            field=models.PositiveIntegerField(blank=True, help_text="Seconds.", null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="obsess",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="process_perf_data",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="retain_status_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="retain_nonstatus_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="service",
            name="notes_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="service",
            name="action_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="service",
            name="display_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="service",
            name="icon_image",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="service",
            name="icon_image_alt",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="event_handler",
            field=models.ForeignKey(
                blank=True,
                help_text="A command staff defined; runs on every state change.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.command",
            ),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="event_handler_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="flap_detection_enabled",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="low_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="high_flap_threshold",
            field=models.FloatField(blank=True, help_text="Percent state change, 0-100.", null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="flap_detection_options",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="check_freshness",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="freshness_threshold",
            field=models.PositiveIntegerField(blank=True, help_text="Seconds.", null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="obsess",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="process_perf_data",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="retain_status_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="retain_nonstatus_information",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="notes_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="action_url",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="display_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="icon_image",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="icon_image_alt",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="service",
            name="is_volatile",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicetemplate",
            name="is_volatile",
            field=models.BooleanField(blank=True, null=True),
        ),
    ]
