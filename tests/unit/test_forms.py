"""A form acts once: its key is kept with the change it made, and with nothing else."""

from __future__ import annotations

import asyncio

import pytest

from portal.domain import forms
from portal.domain.errors import Invalid
from portal.models import Service, SubmittedForm

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEY = "a" * 64


async def _create(name: str, key: str | None = KEY) -> None:
    async with forms.acting_once(key):
        await Service.create(name=name)


async def test_a_key_acts_once_and_its_repeat_gets_the_first_answer(db: str) -> None:
    await _create("AMO Un")
    await forms.remember(KEY, "/operateur/services/1")
    with pytest.raises(forms.Repeat) as repeat:
        await _create("AMO Deux")
    assert repeat.value.answer == "/operateur/services/1"
    assert await Service.all().values_list("name", flat=True) == ["AMO Un"]


async def test_a_refusal_keeps_neither_the_change_nor_the_key(db: str) -> None:
    with pytest.raises(Invalid):
        async with forms.acting_once(KEY):
            await Service.create(name="AMO Un")
            raise Invalid("name", "refused")
    assert not await SubmittedForm.exists() and not await Service.exists()
    await _create("AMO Un")
    assert await Service.all().count() == 1


async def test_a_repeat_waits_for_the_first_answer(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first sending's page writes its answer once its change committed: a repeat that
    comes in between looks again until it is there."""
    await _create("AMO Un")
    pause = asyncio.sleep
    waits: list[float] = []

    async def meanwhile(seconds: float) -> None:
        waits.append(seconds)
        await forms.remember(KEY, "/operateur")
        await pause(0)

    monkeypatch.setattr(forms.asyncio, "sleep", meanwhile)
    with pytest.raises(forms.Repeat) as repeat:
        await _create("AMO Deux")
    assert repeat.value.answer == "/operateur" and waits == [forms.LOOK_AGAIN_EVERY]


async def test_a_first_answer_never_written_is_waited_for_a_while_only(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forms, "WAIT_FOR_ANSWER", 0.1)
    await _create("AMO Un")
    with pytest.raises(forms.Repeat) as repeat:
        await _create("AMO Deux")
    assert repeat.value.answer == ""


async def test_without_a_key_it_is_a_plain_transaction(db: str) -> None:
    await _create("AMO Un", None)
    await _create("AMO Deux", None)
    assert await Service.all().count() == 2
    assert not await SubmittedForm.exists()
