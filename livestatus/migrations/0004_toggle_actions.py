# Enable/disable notifications and active checks (issue 18): new ActionLog.kind choices only.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("livestatus", "0003_saved_views"),
    ]

    operations = [
        migrations.AlterField(
            model_name="actionlog",
            name="kind",
            field=models.CharField(
                choices=[
                    ("acknowledge", "acknowledge"),
                    ("remove_acknowledgement", "remove acknowledgement"),
                    ("downtime", "schedule downtime"),
                    ("delete_downtime", "delete downtime"),
                    ("recheck", "re-check (forced)"),
                    ("comment", "comment"),
                    ("enable_notifications", "enable notifications"),
                    ("disable_notifications", "disable notifications"),
                    ("enable_checks", "enable active checks"),
                    ("disable_checks", "disable active checks"),
                ],
                max_length=32,
            ),
        ),
    ]
