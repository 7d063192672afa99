"""Smoke test of the fixtures."""

import pytest

from portal.models import Service

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_database_starts_empty(db: str) -> None:
    assert await Service.all().count() == 0
    await Service.create(name="x")


async def test_database_is_emptied_between_tests(db: str) -> None:
    assert await Service.all().count() == 0
