"""Write a local .env with fresh keys for the demo, unless one exists.

Run as `python -m config.localenv`; it never overwrites an existing file, so keys (and the
credentials encrypted with them) survive a second `make demo`.
"""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def ensure_env_file(path: Path = ENV_FILE) -> bool:
    """Create `path` with a new SECRET_KEY and encryption key; return whether it was created."""
    if path.exists():
        return False
    path.write_text(
        "# Written by `make demo` for this machine only. Never commit it.\n"
        "DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(64)}\n"
        f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    created = ensure_env_file()
    sys.stdout.write(f"{'wrote' if created else 'kept'} {ENV_FILE}\n")
