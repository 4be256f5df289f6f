import os
from typing import Any

from django.core.management.base import BaseCommand

from integrations.demo import DEMO_ADMIN_USERNAME, demo_admin_ensure, demo_seed


class Command(BaseCommand):
    help = "Create the demo integration wired to the built-in simulators, and an admin user."

    def handle(self, *args: Any, **options: Any) -> None:
        seed = demo_seed()
        verb = "created" if seed.created else "kept"
        self.stdout.write(f"{verb} integration '{seed.integration.slug}'")
        generated = demo_admin_ensure(password=os.environ.get("DEMO_ADMIN_PASSWORD"))
        if generated:
            # Printed once, here: it is stored only as a hash.
            self.stdout.write(
                self.style.WARNING(
                    f"admin user '{DEMO_ADMIN_USERNAME}' created with password: {generated}\n"
                    "(shown only now; set DEMO_ADMIN_PASSWORD to choose one)"
                )
            )
