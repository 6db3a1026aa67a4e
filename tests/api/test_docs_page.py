"""``/docs`` works offline: Swagger UI's files come from the service, never from a CDN.

The last test drives a real headless Chromium (Debian's ``chromium``, through the
``playwright`` package, never a browser it downloads) against a real server on
loopback, refuses every request to anywhere else, and reads the operations the page
rendered from ``/openapi.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from servekit import live_server, serving

from modelry.api.routes import ROUTES
from modelry.api.swagger import MEDIA_TYPES, swagger_ui_dir
from modelry.settings import Settings

BROWSER_FLAGS = [
    # this machine has no network: Chromium's own background calls would only fail
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
]


def _links(page: str) -> list[str]:
    """Every URL the page loads: src and href attributes, and Swagger UI's ``url``."""
    return re.findall(r'(?:src|href)="([^"]*)"', page) + re.findall(r'url: "([^"]*)"', page)


@pytest.mark.anyio
async def test_the_page_names_only_local_files_and_they_are_served(tmp_path: Path) -> None:
    async with serving(Settings(home=tmp_path / "home")) as client:
        page = (await client.get("/docs")).text
        assert "://" not in page and "//" not in "".join(_links(page))
        links = _links(page)
        assert len(links) == 4, links  # icon, stylesheet, script, document
        base = "http://modelry/docs"
        for link in links:
            r = await client.get(urljoin(base, link))
            assert r.status_code == 200, link
            name = link.rsplit("/", 1)[-1]
            if name == "openapi.json":
                assert r.json()["openapi"] == "3.1.0"
                continue
            assert r.headers["content-type"] == MEDIA_TYPES[name]
            assert r.content == (swagger_ui_dir() / name).read_bytes()
        css = await client.get("/docs/static/swagger-ui.css")
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        js = await client.get("/docs/static/swagger-ui-bundle.js")
        assert js.headers["content-type"] == "text/javascript; charset=utf-8"
        assert b"SwaggerUIBundle" in js.content and len(js.content) > 1_000_000
        for name in ("index.html", "swagger-initializer.js", "..%2F__init__.py", "nope.js"):
            r = await client.get(f"/docs/static/{name}")
            assert r.status_code == 404 and "error" in r.json(), name


def test_the_docs_need_no_fastapi(tmp_path: Path) -> None:
    script = f"""
import asyncio, json, sys
import httpx
from modelry.api.app import create_app
from modelry.settings import Settings

async def main():
    app = create_app(Settings(home={str(tmp_path / "home")!r}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            for url in ("/docs", "/docs/static/swagger-ui-bundle.js", "/openapi.json"):
                assert (await c.get(url)).status_code == 200, url
    print(json.dumps(sorted(m for m in ("fastapi", "torch", "pandas") if m in sys.modules)))

asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium not found: `apt-get install chromium` to run the browser test")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright not installed: `pip install playwright` (the dev extra has it)")
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with live_server(tmp_path / "home") as url:
        yield url


@pytest.mark.browser
def test_a_browser_renders_every_operation_offline(chromium: str, server: str) -> None:
    from playwright.sync_api import Route, sync_playwright

    elsewhere: list[str] = []
    errors: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:  # a CDN, a validator, a font: the page must not need it
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_FLAGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.route("**/*", only_the_server)
            page.goto(f"{server}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            title = page.inner_text(".information-container .title")
            shown = page.eval_on_selector_all(
                ".opblock-summary",
                """blocks => blocks.map(b => [
                    b.querySelector('.opblock-summary-method').textContent,
                    b.querySelector('.opblock-summary-path').getAttribute('data-path')])""",
            )
        finally:
            browser.close()
    assert not elsewhere, elsewhere
    assert not errors, errors
    assert "modelry inference service" in title
    assert sorted(map(tuple, shown)) == sorted((e.method, e.path) for e in ROUTES)
    assert httpx.get(f"{server}/docs").status_code == 200
