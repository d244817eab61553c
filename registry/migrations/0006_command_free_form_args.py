# Which $ARGn$ of a command staff declared free-form (left unquoted when rendered: registry.validation).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_deployed_host_action_rights"),
    ]

    operations = [
        migrations.AddField(
            model_name="command",
            name="free_form_args",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Numbers of the $ARGn$ whose value splits into words (e.g. [1]: '-H www -p 80' is four arguments); every other macro is one argument. Set by staff.",
            ),
        ),
    ]
