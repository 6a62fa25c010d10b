"""GraphiQL served by the server itself: the page and its vendored scripts (README.md says where they
come from), so the IDE works offline. Development only: production has no IDE."""

import hashlib
from pathlib import Path
from string import Template

from aiohttp import web

HERE = Path(__file__).resolve().parent
PREFIX = "/graphiql"
# Every file the page loads; nothing else in this directory is served.
ASSETS = (
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "inbox-graphiql.js",
)
# An asset URL carries a hash of its content, so browsers may keep it for a year and still get
# the new file the moment it changes.
CACHE_FOREVER = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _url(name: str) -> str:
    digest = hashlib.sha256((HERE / name).read_bytes()).hexdigest()[:16]
    return f"{PREFIX}/{name}?v={digest}"


def page_html() -> str:
    """The GraphiQL page, its asset URLs versioned by content."""
    urls = dict(zip(("graphiql_css", "react", "react_dom", "graphiql_js", "page_js"), map(_url, ASSETS), strict=True))
    return Template((HERE / "index.html").read_text()).substitute(urls)


async def _asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.FileResponse(
        HERE / name, headers={"Cache-Control": CACHE_FOREVER, "Content-Type": CONTENT_TYPES[Path(name).suffix]}
    )


def add_asset_routes(app: web.Application) -> None:
    app.router.add_get(PREFIX + "/{name}", _asset)
