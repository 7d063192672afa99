"""Settings: safe defaults for a local run, no secret defaults in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.settings import SettingsError, load_settings

LONG = "x" * 40
MASTER = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE"


def test_development_makes_its_secrets_once_under_var(tmp_path: Path) -> None:
    first = load_settings({"PORTAL_VAR_DIR": str(tmp_path)})
    again = load_settings({"PORTAL_VAR_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32
    assert first.secret_key == again.secret_key
    assert first.journal_key == again.journal_key != first.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.database_url == f"sqlite://{tmp_path / 'portal.sqlite3'}"
    assert first.port == 8000 and first.host == "localhost"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JOURNAL_KEY", "MASTER_KEY", "DATABASE_URL"])
def test_production_refuses_to_start_without_a_secret(tmp_path: Path, missing: str) -> None:
    env = {
        "PORTAL_ENV": "production",
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": LONG,
        "JOURNAL_KEY": LONG,
        "MASTER_KEY": MASTER,
        "DATABASE_URL": "postgres://portal@db/portal",
    }
    del env[missing]
    with pytest.raises(SettingsError, match=missing):
        load_settings(env)
    assert not (tmp_path / "secret_key").exists()


def test_production_with_everything_starts(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": LONG,
            "JOURNAL_KEY": LONG,
            "MASTER_KEY": MASTER,
            "DATABASE_URL": "postgres://portal@db/portal",
            "PORTAL_VAR_DIR": str(tmp_path),
        }
    )
    assert settings.production and settings.https


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORTAL_ENV", "staging"),
        ("SECRET_KEY", "short"),
        ("DEFAULT_LANGUAGE", "de"),
        ("MASTER_KEY", "too-short"),
        ("QUICK_EXIT_URL", "javascript:alert(1)"),
        ("QUICK_EXIT_URL", "http://example.org"),
    ],
)
def test_wrong_values_are_refused_with_the_setting_named(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError):
        load_settings({"PORTAL_VAR_DIR": str(tmp_path), name: value})
