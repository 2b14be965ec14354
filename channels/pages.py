"""What keyq's two sets of web pages (the web channel, the dashboard) share: Jinja2 templates
from a package, a stylesheet served from it, one strict Content-Security-Policy, and small JSON
values kept in AES-GCM sealed, HttpOnly, SameSite=Strict cookies."""

from __future__ import annotations

import base64
import json
import secrets
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""Pages load their own stylesheet and nothing else: no script, no frame, no other site."""


def templates(package: str) -> Environment:
    """The package's templates/ folder, HTML escaped."""
    folder = resources.files(package).joinpath("templates")
    return Environment(loader=FileSystemLoader(str(folder)), autoescape=select_autoescape(["html"]))


def stylesheet(package: str, name: str) -> Response:
    """A stylesheet from the package's static/ folder."""
    css = resources.files(package).joinpath("static", name).read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})


class SealedCookies:
    """JSON values sealed with AES-GCM (the purpose bound as associated data), set HttpOnly,
    SameSite=Strict, scoped to ``path``, and Secure behind HTTPS."""

    def __init__(self, key: bytes, purpose: bytes, *, path: str, public_url: str) -> None:
        self._aead = AESGCM(key)
        self._purpose = purpose
        self._path = path
        self._https = public_url.startswith("https")

    def seal(self, value: dict[str, Any]) -> str:
        nonce = secrets.token_bytes(12)
        plain = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(
            nonce + self._aead.encrypt(nonce, plain, self._purpose)
        ).decode()

    def open(self, raw: str | None) -> dict[str, Any] | None:
        """The value, or None if missing, forged, or sealed with another key or purpose."""
        if not raw:
            return None
        try:
            blob = base64.urlsafe_b64decode(raw.encode())
            value: dict[str, Any] = json.loads(
                self._aead.decrypt(blob[:12], blob[12:], self._purpose)
            )
        except (ValueError, InvalidTag):
            return None
        return value

    def set(
        self,
        request: Request,
        response: Response,
        name: str,
        value: dict[str, Any],
        max_age: int | None = None,
    ) -> None:
        response.set_cookie(
            name,
            self.seal(value),
            max_age=max_age,
            path=self._path,
            httponly=True,
            secure=request.url.scheme == "https" or self._https,
            samesite="strict",
        )
