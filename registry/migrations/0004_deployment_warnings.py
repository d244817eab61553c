from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_deployment_history_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="warnings",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The verifier's warning lines (the config was accepted with them).",
            ),
        ),
    ]
