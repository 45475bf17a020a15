"""Headers every response carries, and a clear answer to a request body over the size limit.

Every answer — JSON, problem+json errors, PDFs, CSV, the OpenAPI document,
the docs page and the portal — carries:

* ``Content-Security-Policy`` with ``frame-ancestors 'none'``. The portal sets
  its own (pages with no script at all, :func:`api.portal.views.security_headers`);
  the Swagger UI page at ``/api/docs`` gets one that allows its own files
  from ``/api/docs/static/`` and exactly its one inline start-up script, by
  hash; everything else gets ``default-src 'none'`` — a JSON answer or a PDF
  never needs to load anything;
* ``X-Frame-Options: DENY`` (for browsers that ignore ``frame-ancestors``);
* ``X-Content-Type-Options: nosniff``;
* ``Referrer-Policy``: ``no-referrer``, or the portal's ``same-origin``.

A body over ``MAX_CONTENT_LENGTH`` (1 MiB by default; a view may allow more,
as the bank-statement import does with 8 MiB) is refused as soon as it is
read, before anything is written: 413 as problem+json naming the limit.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import errors

#: For answers that are data, not pages: load nothing, be framed by nobody.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: bytes) -> str:
    """The Swagger UI page's policy: its own files, and its inline scripts by SHA-256."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        # Swagger UI sets style attributes on its elements; no script comes with that.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _headers(response: Response) -> Response:
    if "Content-Security-Policy" not in response.headers:
        if (
            request.endpoint == DOCS_ENDPOINT
            and response.mimetype == "text/html"
            and not response.direct_passthrough
        ):
            policy = docs_csp(response.get_data())
        else:
            policy = DEFAULT_CSP
        response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _too_large(error: RequestEntityTooLarge) -> Response:
    # The request's own limit: a view may raise it (bank statements take up to 8 MiB).
    limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return errors.problem(
        413,
        f"the request body is larger than the limit of {size} ({limit} bytes); nothing was written",
        code="payload_too_large",
    )


def init_app(app: Flask) -> None:
    app.after_request(_headers)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
