"""The .ionapi credentials file (ION API gateway → Authorized Apps → Download Credentials).

Keys are read case-insensitively (Infor's table writes SAAK/SASK, real files use lower case) and
the service-account keys may be missing (apps on the Client Credentials grant) — reference §1.
"""

import json
from dataclasses import dataclass
from typing import Any

from connectors.errors import DataError

# Keys every usable file has; the service-account keys are checked where the grant needs them.
REQUIRED_KEYS = ("ci", "cs", "pu", "ot")
KNOWN_KEYS = ("ti", "cn", "ci", "cs", "iu", "pu", "oa", "ot", "or", "saak", "sask", "dt", "ev", "v")


def parse_ionapi(text: str | bytes | dict[str, Any]) -> dict[str, str]:
    """The .ionapi content as a dict with lower-case keys; DataError names what is wrong."""
    if isinstance(text, dict):
        data: Any = text
    else:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        try:
            data = json.loads(text.lstrip("\ufeff"))
        except ValueError as exc:
            raise DataError(
                f".ionapi file is not valid JSON ({exc.msg} at line {exc.lineno}); download it "
                "again from ION API → Authorized Apps → Download Credentials",
                field="ionapi",
            ) from None
    if not isinstance(data, dict):
        raise DataError(
            f".ionapi file must hold a JSON object, not {type(data).__name__}", field="ionapi"
        )
    parsed: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if value is not None and not isinstance(value, str | int | float):
            raise DataError(
                f".ionapi key {key!r} must be a string, not {type(value).__name__}",
                field=key.lower(),
            )
        parsed[key.strip().lower()] = "" if value is None else str(value).strip()
    missing = [key for key in REQUIRED_KEYS if not parsed.get(key)]
    if missing:
        raise DataError(
            f".ionapi file lacks {', '.join(missing)} (has {', '.join(sorted(parsed)) or 'none'})",
            field=missing[0],
        )
    if not parsed["pu"].startswith(("https://", "http://")):
        raise DataError(
            f".ionapi 'pu' is not a URL: {parsed['pu']!r}", field="pu", value=parsed["pu"]
        )
    return parsed


@dataclass(frozen=True)
class IonApiCredentials:
    """What the client needs from a parsed .ionapi dict."""

    client_id: str
    client_secret: str
    token_url: str
    revoke_url: str
    api_base: str  # iu + "/" + ti: the tenant's gateway root
    tenant: str = ""
    username: str = ""  # saak, sent as is (it already starts with TENANT#)
    password: str = ""  # sask

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IonApiCredentials":
        ionapi = parse_ionapi(data)
        # Plain concatenation: pu already ends with "/" (reference §1).
        pu = ionapi["pu"]
        iu = ionapi.get("iu", "").rstrip("/")
        ti = ionapi.get("ti", "")
        return cls(
            client_id=ionapi["ci"],
            client_secret=ionapi["cs"],
            token_url=pu + ionapi["ot"],
            revoke_url=pu + ionapi["or"] if ionapi.get("or") else "",
            api_base=f"{iu}/{ti}" if iu and ti else iu,
            tenant=ti,
            username=ionapi.get("saak", ""),
            password=ionapi.get("sask", ""),
        )

    @property
    def has_service_account(self) -> bool:
        return bool(self.username and self.password)
