"""The ``/docs`` page: Swagger UI on ``/openapi.json``, from files on this machine.

The page and its files are served by the service itself, so the docs work offline
(no CDN): ``/docs/static/FILE`` serves the few files of Swagger UI's distribution the
page needs, as the PyPI package ``swagger-ui-bundle-v2`` ships them (Swagger UI 5.31,
byte for byte the ``swagger-ui-dist`` release, Apache-2.0; 5.x is the first to read
OpenAPI 3.1). Every URL on the page is relative, so it also works under a root path.
"""

from __future__ import annotations

from pathlib import Path

from modelry.errors import NotFoundError

STATIC_PREFIX = "docs/static"
"""Where the page finds Swagger UI's files, relative to ``/docs``."""

MEDIA_TYPES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    # what a browser's developer tools ask for when open
    "swagger-ui.css.map": "application/json",
    "swagger-ui-bundle.js.map": "application/json",
}
"""The files served, with their content types; any other name is a 404."""

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>modelry — API docs</title>
<link rel="icon" type="image/png" href="{STATIC_PREFIX}/favicon-32x32.png">
<link rel="stylesheet" href="{STATIC_PREFIX}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_PREFIX}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}});
</script>
</body>
</html>
"""
"""The page: relative URLs only, and no validator badge (it would call an online service)."""


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's distribution files, from the installed package."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


class SwaggerAssets:
    """Swagger UI's files by name, read once on first request and kept in memory."""

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._cache: dict[str, bytes] = {}

    def get(self, name: str) -> tuple[bytes, str]:
        """The file's bytes and content type.

        Raises:
            NotFoundError: Not one of :data:`MEDIA_TYPES`.
        """
        media_type = MEDIA_TYPES.get(name)
        if media_type is None:
            raise NotFoundError(f"no docs file {name!r}")
        body = self._cache.get(name)
        if body is None:
            folder = self._folder or swagger_ui_dir()
            body = self._cache[name] = (folder / name).read_bytes()
        return body, media_type
