"""Example counts that follow the active Hypothesis profile (the profiles are in conftest.py)."""

from __future__ import annotations

from hypothesis import settings


def examples(n: int, profile: settings | None = None) -> int:
    """``n`` examples under the ``ci`` profile, scaled by the active (or given) profile's
    ``max_examples`` against ci's: a tenth under ``dev``, ten times under ``thorough``; at least 1."""
    active = settings() if profile is None else profile
    return max(1, round(n * active.max_examples / settings.get_profile("ci").max_examples))
