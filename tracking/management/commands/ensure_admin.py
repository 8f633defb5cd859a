"""Create the first admin account if there is none: `make run` calls it on every start."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a superuser from HUB_ADMIN_USER / HUB_ADMIN_PASSWORD when no superuser exists; "
        "without a password, generate one and print it once."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists; nothing to do.")
            return
        username = settings.HUB_ADMIN_USER
        password = settings.HUB_ADMIN_PASSWORD
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        if generated:
            # Printed once, to the terminal of the person who ran `make run`; never logged.
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin account {username!r} with password {password!r}. "
                    "It is shown only this once: change it in the admin."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin account {username!r}."))
