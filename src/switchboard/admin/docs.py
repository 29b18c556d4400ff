"""``/docs``: Swagger UI over ``/openapi.json``, its script and styles served from the package.

FastAPI's own page loads Swagger UI from a CDN: a control plane on a network without a way
out (most production ones) would show a blank page. The files come from ``fastapi-offline``,
a dependency that ships a current Swagger UI (5.x: FastAPI's schema is OpenAPI 3.1, which
Swagger UI 4 cannot render) and needs nothing but FastAPI; only its static files are used.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

if TYPE_CHECKING:
    from fastapi import FastAPI

#: Where the page's files are served: under ``/docs``, so whatever answers ``/docs`` (a
#: proxy's location, an allowed path) answers them too.
ASSETS_URL = "/docs/assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))


def install_docs(api: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve ``/docs`` and its assets on ``api`` (made with ``docs_url=None``)."""

    @api.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )

    api.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
