"""The service's public keys, as JOSE publishes them: what anyone checks a receipt with."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.domain import signing


async def jwks(request: Request) -> Response:
    """Every key the service ever signed with (retired ones too: old receipts still check)."""
    return JSONResponse(
        await signing.jwks(),
        media_type="application/jwk-set+json",
        headers={
            # Public and the same for all: any page or program may read it, for a while.
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
        },
    )


routes = [Route("/.well-known/jwks.json", jwks, name="jwks")]
