"""The catalogues: every string translated in French and Dutch, and the template not stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "i18n"


def _catalogue(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _ids(catalogue: Catalog) -> set[str]:
    return {str(m.id) if isinstance(m.id, str) else str(m.id[0]) for m in catalogue if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "pyproject.toml",
            "-k",
            "_l",
            "-k",
            "lazy",
            "--no-location",
            "--sort-output",
            "--omit-header",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return _catalogue(out)


def test_the_pot_file_is_not_stale(extracted: Catalog) -> None:
    committed = _ids(_catalogue(I18N / "messages.pot"))
    fresh = _ids(extracted)
    assert fresh - committed == set(), "new strings: run `make messages` and translate them"
    assert committed - fresh == set(), "strings no longer used: run `make messages`"


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_each_catalogue_holds_every_string(extracted: Catalog, language: str) -> None:
    catalogue = _catalogue(I18N / language / "LC_MESSAGES" / "messages.po")
    assert _ids(extracted) <= _ids(catalogue), f"run `make messages` for {language}"


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_string_is_translated(language: str) -> None:
    catalogue = _catalogue(I18N / language / "LC_MESSAGES" / "messages.po")
    missing = [
        m.id
        for m in catalogue
        if m.id and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    assert missing == [], f"{language}: {len(missing)} strings lack a translation"


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_placeholders_survive_translation(language: str) -> None:
    import re

    pattern = re.compile(r"%\(\w+\)s|<[^>]+>")
    catalogue = _catalogue(I18N / language / "LC_MESSAGES" / "messages.po")
    for message in catalogue:
        if not message.id or not isinstance(message.id, str):
            continue
        assert sorted(pattern.findall(message.id)) == sorted(
            pattern.findall(str(message.string))
        ), message.id
