"""Readiness, request ids and structured logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from portal import ops


async def test_ready_when_every_migration_is_applied(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ready"}


async def test_not_ready_while_a_migration_is_pending(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ops.migrations_on_disk()
    monkeypatch.setattr(ops, "migrations_on_disk", lambda: [*real, "9999_future"])
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["pending"] == ["9999_future"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abcdef123456", True),
        ("x", False),
        ("a b c d e f g h", False),
        ("<script>alert(1)</script>", False),
    ],
)
async def test_each_response_carries_a_request_id(
    client: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await client.get("/droits", headers={"X-Request-ID": sent})
    returned = response.headers["x-request-id"]
    assert (returned == sent) is kept
    assert ops.REQUEST_ID_RE.match(returned)


async def test_the_access_line_names_the_route_never_the_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="portal.access"):
        await client.get("/espace/SECR-ET12")
    lines = [r for r in caplog.records if r.name == "portal.access"]
    assert lines and lines[-1].route == "/espace/{reference}"  # type: ignore[attr-defined]
    formatted = ops.JSONFormatter().format(lines[-1])
    entry = json.loads(formatted)
    assert entry["route"] == "/espace/{reference}" and entry["status"] == 303
    assert "SECR-ET12" not in formatted
