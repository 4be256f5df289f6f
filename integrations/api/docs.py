"""A plain API docs page rendered from the OpenAPI schema: no JavaScript, no CDN."""

from django.http import HttpResponse
from django.utils.html import format_html, format_html_join
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.views import APIView


class ApiDocsApi(APIView):
    permission_classes = (IsAuthenticated,)
    renderer_classes = (StaticHTMLRenderer,)
    schema = None  # not itself part of the API schema

    def get(self, request: Request) -> HttpResponse:
        spec = SchemaGenerator().get_schema(request=request, public=True)
        sections = []
        for path, item in sorted(spec.get("paths", {}).items()):
            for method, op in item.items():
                if not isinstance(op, dict):
                    continue
                params = format_html_join(
                    "",
                    "<li><code>{}</code> ({}){}</li>",
                    (
                        (
                            p["name"],
                            p.get("in", ""),
                            f" — {p['description']}" if p.get("description") else "",
                        )
                        for p in op.get("parameters", [])
                    ),
                )
                sections.append(
                    format_html(
                        "<section><h2><code>{} {}</code></h2><p>{}</p><ul>{}</ul>"
                        "<p>Responses: {}</p></section>",
                        method.upper(),
                        path,
                        op.get("description") or op.get("summary") or "",
                        params,
                        ", ".join(sorted(op.get("responses", {}))),
                    )
                )
        body = format_html(
            "<!doctype html><html><head><meta charset='utf-8'><title>{} API</title></head>"
            "<body><h1>{} {}</h1><p>Machine-readable schema: <a href='{}'>{}</a> "
            "(OpenAPI 3). Authenticate with <code>Authorization: Token &lt;key&gt;</code>. "
            "Reports also answer <code>?format=csv</code>.</p>{}</body></html>",
            spec["info"]["title"],
            spec["info"]["title"],
            spec["info"]["version"],
            "/api/schema/",
            "/api/schema/",
            format_html_join("", "{}", ((s,) for s in sections)),
        )
        return HttpResponse(body)
