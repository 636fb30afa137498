"""A time budget per request: reports are computed in worker threads, and a request whose report is
not ready within BUDGET_S seconds is answered 503 (the thread finishes and frees its slot; its result
is dropped). Slow reports (plans, quantization tables) have their own few threads, so a burst of them
never holds up quick answers; when all are busy a new slow request is 503 at once, not queued.

Memory is bounded by llmsize.bounds (no request can claim sizes that make big tables) and, under
`llmsize serve`, by an address-space limit: an allocation past it is a MemoryError, answered 503,
never the kernel's OOM killer.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

BUDGET_S = 5.0
SLOW_WORKERS = 2
QUICK_WORKERS = 8


class OverBudget(Exception):
    """A request took longer than its budget, or every worker for its kind is busy (HTTP 503)."""

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


class _Pool:
    """Worker threads for one kind of report. With `refuse_when_busy`, a request finding every worker
    taken is refused at once (slow reports); otherwise it waits its turn, inside its budget."""

    def __init__(self, workers: int, name: str, *, refuse_when_busy: bool) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"llmsize-{name}")
        self.free = threading.BoundedSemaphore(workers) if refuse_when_busy else None

    async def run(self, fn: Callable[[], T], budget: float) -> T:
        free = self.free
        if free is not None and not free.acquire(blocking=False):
            raise OverBudget("the server is busy with other long calculations; try again in a few seconds")

        def job() -> T:
            try:
                return fn()
            finally:
                if free is not None:
                    free.release()

        future = asyncio.get_running_loop().run_in_executor(self.executor, job)
        try:
            return await asyncio.wait_for(asyncio.shield(future), budget)
        except asyncio.TimeoutError:
            future.add_done_callback(lambda f: f.exception())  # consume its outcome: no "never retrieved"
            raise OverBudget(f"this calculation took longer than the server's {budget:g} s budget per request; "
                             f"try a smaller model, fewer formats or fewer GPU types") from None


_POOLS: dict[bool, _Pool] = {}
_LOCK = threading.Lock()


def _pool(slow: bool) -> _Pool:
    with _LOCK:
        if slow not in _POOLS:
            _POOLS[slow] = _Pool(SLOW_WORKERS if slow else QUICK_WORKERS, "slow" if slow else "quick",
                                 refuse_when_busy=slow)
        return _POOLS[slow]


async def within_budget(fn: Callable[[], T], *, slow: bool, budget: float | None = None) -> T:
    """fn() in a worker thread, answered within `budget` seconds (default BUDGET_S) or OverBudget."""
    return await _pool(slow).run(fn, BUDGET_S if budget is None else budget)
