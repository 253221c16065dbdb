"""Worker processes for part rendering, with a hard time limit that kills runaway renders."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import time
from collections.abc import Iterator, Sequence
from types import TracebackType

from pipeline.transcript.parts import PartJob, PartResult, render_glyph_sheet, render_part

# The fork server imports WeasyPrint once; each worker then starts as a cheap fork of it,
# without inheriting the caller's threads, database connections or open files.
_PRELOAD = ["weasyprint", "pipeline.transcript.parts"]


class TranscriptTimeout(TimeoutError):
    """A render took longer than its time limit and its workers were killed."""


class RenderPool:
    """A short-lived pool of render workers; leaving the ``with`` block always kills them."""

    def __init__(self, workers: int, time_limit_seconds: float) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        self._pool = context.Pool(processes=max(1, workers))
        # A monotonic deadline is a resource limit, not a reading of the wall clock.
        self._deadline = time.monotonic() + time_limit_seconds
        self._time_limit = time_limit_seconds

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._pool.terminate()
        self._pool.join()

    def glyph_sheet(self) -> bytes:
        """Render the footer glyph sheet in a worker."""
        return self._wait(self._pool.apply_async(render_glyph_sheet))

    def render(self, jobs: Sequence[PartJob]) -> Iterator[PartResult]:
        """Submit every part at once and yield results in document order as they finish."""
        pending = [self._pool.apply_async(render_part, (job,)) for job in jobs]
        for result in pending:
            yield self._wait(result)

    def _wait(self, result: multiprocessing.pool.AsyncResult) -> object:
        try:
            return result.get(timeout=max(0.0, self._deadline - time.monotonic()))
        except multiprocessing.TimeoutError as exc:
            self._pool.terminate()
            raise TranscriptTimeout(f"transcript render exceeded {self._time_limit:g} s") from exc
