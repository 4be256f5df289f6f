from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connectors.encryption import DecryptionError
from connectors.services import encrypted_fields_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the newest key in FIELD_ENCRYPTION_KEYS. "
        "Rotation: put a new key first in FIELD_ENCRYPTION_KEYS, keep the old ones after it, "
        "run this command, then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = encrypted_fields_rotate()
        except DecryptionError as exc:
            raise CommandError(str(exc)) from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS("done: every encrypted value uses the newest key"))
