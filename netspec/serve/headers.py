"""Response headers every answer of `netspec serve` carries.

The page runs only its own scripts (`script-src 'self'`: the SVG of a diagram, whose labels
come from the spec's text, can never run one), loads nothing from elsewhere (it works offline
and leaks nothing), and no answer is cached (a file's text must be what is on disk now).
CodeMirror writes its styles into <style> elements, hence `style-src 'unsafe-inline'`.
"""

from __future__ import annotations

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
          "frame-ancestors 'none'; form-action 'none'")
HEADERS = [(b"content-security-policy", POLICY.encode()),
           (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"),
           (b"cache-control", b"no-store")]


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + \
                    [(k, v) for k, v in HEADERS if k not in names]
            await send(message)

        return await self.app(scope, receive, with_headers)
