"""The three checks of an export, run side by side: ``proof.check_export``, the offline
``verify-journal`` command and the README's standalone script; each verdict as
``(reason, seq)``, ``(None, None)`` when accepted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from portal import proof

ROOT = Path(__file__).parents[1]
Verdict = tuple[str | None, int | None]


def readme_script() -> str:
    """The script of the README's section "Check a journal yourself", as a reader copies it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Check a journal yourself", 1)[1]
    found = re.search(r"<!-- check_journal\.py -->\n```python\n(.*?)\n```", section, re.S)
    assert found, "the README's check script is gone"
    return found.group(1) + "\n"


def by_proof(export: Any, jwks: Any, earlier: Any = None) -> Verdict:
    try:
        proof.check_export(export, jwks, earlier)
    except proof.Refused as refusal:
        return refusal.reason, refusal.seq
    return None, None


def _files(folder: Path, export: Any, jwks: Any, earlier: Any) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "export.json", folder / "jwks.json"]
    paths[0].write_text(json.dumps(export), encoding="utf-8")
    paths[1].write_text(json.dumps(jwks), encoding="utf-8")
    if earlier is not None:
        if isinstance(earlier, str):
            paths.append(folder / "earlier.jwt")
            paths[2].write_text(earlier, encoding="ascii")
        else:
            paths.append(folder / "earlier.json")
            paths[2].write_text(json.dumps(earlier), encoding="utf-8")
    return paths


def by_script(folder: Path, export: Any, jwks: Any, earlier: Any = None) -> Verdict:
    """What the README's script says, run as a reader runs it: no portal on its path."""
    script = folder / "check_journal.py"
    folder.mkdir(parents=True, exist_ok=True)
    script.write_text(readme_script(), encoding="utf-8")
    paths = _files(folder, export, jwks, earlier)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", str(script), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
        env=env,
        check=False,
    )
    assert not done.stderr, done.stderr
    return _verdict(done.returncode, done.stdout, r"refused: (\w+)(?:, entry (\d+))?", "accepted")


def by_command(folder: Path, export: Any, jwks: Any, earlier: Any = None) -> Verdict:
    """What ``python -m portal verify-journal --export`` says, without any setting."""
    paths = _files(folder, export, jwks, earlier)
    command = [sys.executable, "-m", "portal", "verify-journal", "--export", str(paths[0])]
    command += ["--jwks", str(paths[1])]
    if earlier is not None:
        command += ["--earlier", str(paths[2])]
    # No database, no key: the offline check needs none.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "JOURNAL_KEY", "MASTER_KEY", "SECRET_KEY"}
    }
    env.update(PYTHONPATH=str(ROOT), PORTAL_ENV="production", PORTAL_VAR_DIR=str(folder))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return _verdict(
        done.returncode, done.stdout, r"Refused: (\w+)(?: \(entry (\d+)\))?", "Accepted"
    )


def _verdict(code: int, out: str, refused: str, accepted: str) -> Verdict:
    if code == 0:
        assert out.startswith(accepted), out
        return None, None
    assert code == 1, out
    found = re.match(refused, out)
    assert found, out
    return found.group(1), int(found.group(2)) if found.group(2) else None


def all_three(folder: Path, export: Any, jwks: Any, earlier: Any = None) -> Verdict:
    """The verdict the three checks agree on (the test fails when they do not)."""
    expected = by_proof(export, jwks, earlier)
    assert by_script(folder / "script", export, jwks, earlier) == expected
    assert by_command(folder / "command", export, jwks, earlier) == expected
    return expected
