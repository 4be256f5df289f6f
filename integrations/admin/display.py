"""Readable JSON in admin pages (escaped, indented, never raw HTML)."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html

from connectors.redaction import redact


def pretty_json(value: Any) -> str:
    if value in (None, "", {}, []):
        return "—"
    text = json.dumps(
        redact(value), indent=2, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder
    )
    return format_html('<pre class="json" style="max-height:40em;overflow:auto">{}</pre>', text)
