"""CSV for every report (`?format=csv`): one line per row of `results` (or of the list)."""

import csv
import io
import json
from typing import Any

from rest_framework.renderers import BaseRenderer


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _numeric(value):
        return "'" + value  # no formula injection when opened in a spreadsheet
    return value


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return [{"value": data}]
    return [r if isinstance(r, dict) else {"value": r} for r in data]


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        rows = _rows(data)
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header or ["message"], extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return out.getvalue().encode(self.charset)
