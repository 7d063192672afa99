"""A push service on 127.0.0.1 for the suite, and a browser's side of a subscription.

The service records every request it gets and answers with the status a test chooses (201, as
the real ones do; 410 for a subscription gone; 500 for a service in trouble). The browser side
makes what a browser makes when it subscribes: a P-256 key pair and a 16-byte auth secret, and
decrypts what the service received with them, as the browser would.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """What the endpoint got, and what it answers next."""

    origin: str = ""
    status: int = 201
    # A status for one path only (one device), else ``status``.
    by_path: dict[str, int] = field(default_factory=dict)
    # Where a 307 sends the next requests, when set.
    redirect_to: str = ""
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.received.append(Received(request.path, headers, body))
        if self.redirect_to:
            return web.Response(status=307, headers={"Location": self.redirect_to})
        return web.Response(status=self.by_path.get(request.path, self.status))


@dataclass
class Browser:
    """One browser's subscription keys, as ``PushManager.subscribe`` makes them."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, endpoint: str) -> dict[str, object]:
        """What ``PushSubscription.toJSON()`` gives the page to post."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth_secret)},
        }

    def read(self, body: bytes) -> str:
        """Decrypt a push as the browser does."""
        clear: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return clear.decode()


@asynccontextmanager
async def serve() -> AsyncIterator[PushService]:
    """A push service listening on 127.0.0.1, on a free port, for the block's time."""
    service = PushService()
    app = web.Application()
    app.router.add_post("/{tail:.*}", service.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    service.origin = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()
