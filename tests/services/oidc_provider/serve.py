"""Run the test provider: migrate, register the portal as a client and one user, then serve.

Configured by environment variables (set by run.py's
``run_provider``): the database file, the RSA key file, the port, the client and the user.
"""

from __future__ import annotations

import json
import os

import django
from django.core.management import call_command

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.services.oidc_provider.settings"


def main() -> None:
    django.setup()
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    client = json.loads(os.environ["OIDC_PROVIDER_CLIENT"])
    Application.objects.create(
        name="monitoring portal",
        client_id=client["id"],
        client_secret=client["secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        algorithm=Application.RS256_ALGORITHM,
        redirect_uris=client["redirect_uri"],
        post_logout_redirect_uris=client["post_logout_redirect_uri"],
        skip_authorization=True,
    )
    person = json.loads(os.environ["OIDC_PROVIDER_USER"])
    user = User.objects.create_user(
        person["username"],
        email=person["email"],
        password=person["password"],
        first_name=person["first_name"],
        last_name=person["last_name"],
    )
    for name in person["groups"]:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    call_command("runserver", f"127.0.0.1:{os.environ['OIDC_PROVIDER_PORT']}", use_reloader=False)


if __name__ == "__main__":
    main()
