"""The label window: how long a lead waits for its outcome. A lead older than this without a conversion counts as
lost to training, and is no longer "open" to rescoring after a promotion; both read it from here so they never
disagree on which leads are still undecided."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

LABEL_WINDOW_DAYS: Final = 90
LABEL_WINDOW: Final = timedelta(days=LABEL_WINDOW_DAYS)


def window_start(now: datetime, days: int = LABEL_WINDOW_DAYS) -> datetime:
    """The oldest `created_at` a lead may have and still be inside the window at `now`."""
    return now - timedelta(days=days)
