"""Run in a worker process by tests: what that process has imported."""

from __future__ import annotations

import sys


def imported(module: str) -> bool:
    return module in sys.modules
