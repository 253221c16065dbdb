"""Worker processes for part rendering, with a hard time limit that kills runaway renders."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import time
from types import TracebackType
from typing import Any

from pipeline.transcript.parts import PartJob, render_glyph_sheet, render_part

# The fork server imports WeasyPrint once; each worker then starts as a cheap fork of it,
# without inheriting the caller's threads, database connections or open files.
_PRELOAD = ["weasyprint", "pipeline.transcript.parts", "pipeline.transcript.warmup"]


class TranscriptTimeout(TimeoutError):
    """A render took longer than its time limit and its workers were killed."""


class RenderPool:
    """A short-lived pool of render workers; leaving the ``with`` block always kills them."""

    def __init__(self, workers: int, time_limit_seconds: float) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        # One part per worker process: WeasyPrint's memory is freed with the process, so the
        # peak stays at one part's worth per worker however long the conversation is.
        self._pool = context.Pool(processes=max(1, workers), maxtasksperchild=1)
        # A monotonic deadline is a resource limit, not a reading of the wall clock.
        self._deadline = time.monotonic() + time_limit_seconds
        self._time_limit = time_limit_seconds

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._pool.terminate()
        self._pool.join()

    def submit_glyph_sheet(self) -> multiprocessing.pool.AsyncResult:
        """Start rendering the footer glyph sheet in a worker."""
        return self._pool.apply_async(render_glyph_sheet)

    def submit(self, job: PartJob) -> multiprocessing.pool.AsyncResult:
        """Start rendering one part in a worker; refuse once the time limit has passed."""
        # Photo preparation happens between submissions, so the limit covers it too.
        if time.monotonic() > self._deadline:
            raise TranscriptTimeout(f"transcript render exceeded {self._time_limit:g} s")
        return self._pool.apply_async(render_part, (job,))

    def result(self, handle: multiprocessing.pool.AsyncResult) -> Any:
        """Wait for a submitted job within the render's time limit."""
        return self._wait(handle)

    def _wait(self, result: multiprocessing.pool.AsyncResult) -> Any:
        try:
            return result.get(timeout=max(0.0, self._deadline - time.monotonic()))
        except multiprocessing.TimeoutError as exc:
            self._pool.terminate()
            raise TranscriptTimeout(f"transcript render exceeded {self._time_limit:g} s") from exc
