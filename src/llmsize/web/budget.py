"""A time and memory budget per request.

Slow reports (plans, quantization tables, ~0.1 to a few seconds) are computed in a forked child
process (POSIX): it cannot hold the server's GIL (quick answers stay quick beside it), it has
CHILD_MEMORY bytes of data memory beyond what it inherits (a bigger allocation is a MemoryError,
answered 503, never the kernel's OOM killer), and it is killed when BUDGET_S seconds pass (503). At
most SLOW_WORKERS run at once; a slow request beyond that is 503 at once, not queued. Quick reports
(about a millisecond) run in worker threads, each answered within the same budget. Where fork is
missing (Windows), slow reports use threads too.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from llmsize.errors import LlmsizeError

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


async def within_budget(fn: Callable[[], bytes], *, slow: bool, budget: float | None = None) -> bytes:
    """fn() (a rendered report) within `budget` seconds (default BUDGET_S), or OverBudget: slow ones
    in a forked child, quick ones in a worker thread."""
    budget = BUDGET_S if budget is None else budget
    if slow and hasattr(os, "fork"):
        return await _in_child(fn, budget)
    return await _pool(slow).run(fn, budget)


CHILD_MEMORY = 1 << 30  # data memory a slow report may add to what its process inherits
_CHILDREN = threading.BoundedSemaphore(SLOW_WORKERS)


async def _in_child(fn: Callable[[], bytes], budget: float) -> bytes:
    """fn() in a forked child that sends back ("ok", bytes) | ("user", message) | ("memory", "") |
    ("bug", text) through a pipe; killed at the budget."""
    if not _CHILDREN.acquire(blocking=False):
        raise OverBudget("the server is busy with other long calculations; try again in a few seconds")
    try:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, exit without running the parent's cleanup
            code = 0
            try:
                os.close(r)
                _limit_data(CHILD_MEMORY)
                out = _outcome(fn)
                data = pickle.dumps(out)
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view):]
            except BaseException:  # noqa: BLE001 - nothing may escape a forked child
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        loop = asyncio.get_running_loop()
        reading = loop.run_in_executor(_pool(False).executor, _read_all, r)
        try:
            data = await asyncio.wait_for(asyncio.shield(reading), budget)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await reading
            raise OverBudget(f"this calculation took longer than the server's {budget:g} s budget per request; "
                             f"try a smaller model, fewer formats or fewer GPU types") from None
        finally:
            await loop.run_in_executor(_pool(False).executor, os.waitpid, pid, 0)
    finally:
        _CHILDREN.release()
    kind, value = pickle.loads(data) if data else ("memory", "")
    if kind == "ok":
        return value
    if kind == "user":
        raise LlmsizeError(value)
    if kind == "memory":
        raise OverBudget("this calculation needed more memory than the server's budget per request; try a "
                         "smaller model")
    raise RuntimeError(value)  # a bug in llmsize: the app answers 500 and says so


def _outcome(fn: Callable[[], bytes]) -> tuple[str, object]:
    try:
        return "ok", fn()
    except LlmsizeError as e:
        return "user", str(e)
    except MemoryError:
        return "memory", ""
    except RecursionError:
        return "user", "the input is nested too deeply"
    except Exception as e:  # noqa: BLE001 - reported to the parent as a bug
        return "bug", f"{type(e).__name__}: {e}"


def _read_all(fd: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _limit_data(extra: int) -> None:
    """RLIMIT_DATA = this process's data size now + extra (Linux; elsewhere no limit is set)."""
    try:
        import resource

        with open("/proc/self/status") as f:
            vm_data = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        want = vm_data + extra
        if hard == resource.RLIM_INFINITY or want <= hard:
            resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    except (OSError, ValueError, StopIteration, ImportError):
        pass
