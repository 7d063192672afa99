"""The time the pages go by: one function, so a test can set the pages at a given moment.

The domain takes ``now`` as an argument; the pages that count working days ask this function.
Sessions and links keep the real time, so a test that moves this clock stays signed in.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import timezone


def now() -> datetime:
    """Aware UTC now."""
    return timezone.now()
