"""Objects built once per process from its environment: AWS clients, services and their repositories.

In Lambda a different configuration is a different process, so these never go stale. The local cloud runs
one configuration after another in one process (a test session starts several clouds), so it calls `reset()`
whenever it changes the environment the functions read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

Built = TypeVar("Built", bound=Callable[..., Any])

_caches: list[Any] = []


def per_process(build: Built) -> Built:
    """`functools.cache`, registered so that `reset()` clears it."""
    cached = functools.cache(build)
    _caches.append(cached)
    return cached  # type: ignore[return-value]


def reset() -> None:
    for cached in _caches:
        cached.cache_clear()
