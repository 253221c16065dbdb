"""Where transcript renders run: the worker processes, their time limit and the image cache.

The pipeline (``pipeline.transcript``) only computes; this module gives it what a render runs
on. ``RenderPool`` is a short-lived pool of fork-server workers that renders parts with a hard
time limit, ``render_part_job`` is what each worker runs (it loads the part's prepared photos
from the cache and hands the bytes to the pipeline), and ``render_environment`` bundles a blob
reader, the disk cache and the pool for ``render_transcript``. It imports no database code, so
a worker process that unpickles ``render_part_job`` stays light.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.pool
import os
import signal
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.transcript.model import BlobReader, RenderEnvironment
from pipeline.transcript.parts import PartJob, PartResult, render_glyph_sheet, render_part
from storage.image_cache import FileImageCache, read_prepared

# The fork server imports WeasyPrint once and warms its font caches (transcript_warmup); each
# worker then starts as a cheap fork of it, without inheriting the caller's threads, database
# connections or open files.
_PRELOAD = ["weasyprint", "pipeline.transcript.parts", "usecases.transcript_rendering", "usecases.transcript_warmup"]


class TranscriptTimeout(TimeoutError):
    """A render took longer than its time limit and its workers were killed."""


class RenderStopped(SystemExit):
    """The process rendering a transcript was asked to stop (SIGTERM); its workers were killed."""


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Pool initializer: a worker gets SIGKILL when the fork server that started it exits.

    The fork server exits as soon as the rendering process is gone (even after ``kill -9``),
    so no worker is left rendering for nobody.
    """
    # The fork server hands every child a copy of its "alive" pipe's write end and exits only
    # when all copies are closed; a busy worker holding one would keep it (and so itself) alive
    # after the rendering process was killed. The worker never starts processes of its own, so
    # it lets go of that copy: then the fork server sees the rendering process go at once.
    alive_fd = getattr(multiprocessing.forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive_fd is not None:
        try:
            os.close(alive_fd)
        except OSError:
            pass
        multiprocessing.forkserver._forkserver._forkserver_alive_fd = None
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # Not Linux: the pool's own terminate() on exit still applies.
    if os.getppid() == 1:
        os._exit(1)  # The fork server died before the request took effect.


def render_part_job(job: PartJob) -> PartResult:
    """Render one part inside a worker: load its prepared photos, then let the pipeline draw it."""
    return render_part(job, {url: read_prepared(ref) for url, ref in job.served.items()})


class RenderPool:
    """A short-lived pool of render workers; leaving the ``with`` block always kills them."""

    def __init__(self, workers: int, time_limit_seconds: float) -> None:
        self._previous_sigterm: object = None
        # A monotonic deadline is a resource limit, not a reading of the wall clock.
        self._deadline = time.monotonic() + time_limit_seconds
        self._time_limit = time_limit_seconds
        self._pool_value: multiprocessing.pool.Pool | None = None
        self._start_error: BaseException | None = None
        # Starting the pool waits for the fork server to boot (a fresh interpreter importing
        # WeasyPrint and loading fonts, about a second of CPU) and to fork the workers; a thread
        # does that wait, so the caller builds the terms summary and the first parts meanwhile
        # on the other core instead of after it.
        self._starter = threading.Thread(target=self._start, args=(workers,), name="render-pool-start", daemon=True)
        self._starter.start()

    def _start(self, workers: int) -> None:
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            # One part per worker process: WeasyPrint's memory is freed with the process, so the
            # peak stays at one part's worth per worker however long the conversation is.
            self._pool_value = context.Pool(processes=max(1, workers), maxtasksperchild=1,
                                            initializer=_die_with_parent)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread by _pool
            self._start_error = exc

    @property
    def _pool(self) -> multiprocessing.pool.Pool:
        """The started pool, waiting for the background start to finish (its error raised here)."""
        self._starter.join()
        if self._pool_value is None:
            raise self._start_error or RuntimeError("render pool did not start")
        return self._pool_value

    def __enter__(self) -> RenderPool:
        # A command line render stopped with SIGTERM must still leave through __exit__, which
        # kills the workers; Ctrl-C already does (KeyboardInterrupt). Hosts that handle SIGTERM
        # themselves (the Dramatiq worker) keep their handler.
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _stop_render)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._starter.join()
        if self._pool_value is not None:
            self._pool_value.terminate()
            self._pool_value.join()
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def submit_glyph_sheet(self) -> multiprocessing.pool.AsyncResult:
        """Start rendering the footer glyph sheet in a worker."""
        return self._pool.apply_async(render_glyph_sheet)

    def submit(self, job: PartJob) -> multiprocessing.pool.AsyncResult:
        """Start rendering one part in a worker; refuse once the time limit has passed."""
        # Photo preparation happens between submissions, so the limit covers it too.
        if time.monotonic() > self._deadline:
            raise TranscriptTimeout(f"transcript render exceeded {self._time_limit:g} s")
        return self._pool.apply_async(render_part_job, (job,))

    def result(self, handle: multiprocessing.pool.AsyncResult) -> Any:
        """Wait for a submitted job within the render's time limit."""
        try:
            return handle.get(timeout=max(0.0, self._deadline - time.monotonic()))
        except multiprocessing.TimeoutError as exc:
            self._pool.terminate()
            raise TranscriptTimeout(f"transcript render exceeded {self._time_limit:g} s") from exc


def _stop_render(signum: int, frame: object) -> None:
    raise RenderStopped(128 + signum)


def render_environment(read_blob: BlobReader, cache_dir: Path, template_dir: Path | None = None) -> RenderEnvironment:
    """Return what ``render_transcript`` runs on: this blob reader, the disk cache at ``cache_dir``, a RenderPool."""
    return RenderEnvironment(read_blob=read_blob, images=FileImageCache(cache_dir), start_workers=RenderPool,
                             template_dir=template_dir)
