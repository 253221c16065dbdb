"""Where transcript renders run: the worker processes, their time limit and the image cache.

The pipeline (``pipeline.transcript``) only computes; this module gives it what a render runs
on. ``RenderPool`` is a short-lived pool of fork-server workers that renders parts with a hard
time limit, ``render_part_job`` is what each worker runs (it loads the part's prepared photos
from the cache and hands the bytes to the pipeline), and ``render_environment`` bundles a blob
reader, the disk cache and the pool for ``render_transcript``. It imports no database code, so
a worker process that unpickles ``render_part_job`` stays light.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.pool
import multiprocessing.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.transcript.model import BlobReader, RenderEnvironment
from pipeline.transcript.parts import PartJob, PartResult, render_glyph_sheet, render_part
from storage.image_cache import FileImageCache, read_prepared

# The fork server imports WeasyPrint once and warms its font caches (transcript_warmup); each
# worker then starts as a cheap fork of it, without inheriting the caller's threads, database
# connections or open files.
# The warm-up goes first: it watches for the rendering process to go while WeasyPrint is imported.
_PRELOAD = ["usecases.transcript_warmup", "weasyprint", "pipeline.transcript.parts", "usecases.transcript_rendering"]


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


# How long leaving a render waits for the pool's own shutdown, and then again for it to notice
# its workers were killed. Each step is bounded, so stopping a render never hangs.
STOP_GRACE_SECONDS = 5.0


# How many RenderPools of this process are between __enter__ and their stop. The fork server is
# shared by every pool of the process (threads of a Dramatiq worker may render at once), so it is
# stopped with the last pool only.
_pools_lock = threading.Lock()
_pools_open = 0


def _stop_fork_server() -> None:
    """Stop this process's fork server (if it runs) within bounded time; the next pool starts a new one.

    An idle fork server holds WeasyPrint and its font caches (about 60–75 MB): stopped once the
    parts are rendered, it is not there while the parts are joined, nor between two renders of a
    long-lived worker (whose next render boots it again, about a second of CPU on the other core
    while the first parts are built). ``ForkServer._stop`` would wait for it without a limit.
    """
    server = multiprocessing.forkserver._forkserver
    with server._lock:  # noqa: SLF001 - the standard library keeps the server's pid and pipe only there
        pid, alive_fd = server._forkserver_pid, server._forkserver_alive_fd
        if pid is None:
            return
        if alive_fd is not None:
            with contextlib.suppress(OSError):
                os.close(alive_fd)
        # Closing the "alive" pipe alone makes the server exit cleanly, but that tears down an
        # interpreter holding WeasyPrint and its fonts: 0.26-0.63 s of wall time at load 7-8
        # (0.10-0.13 s of CPU) that the join waited for. The server keeps nothing worth a clean
        # exit (its workers are stopped, it writes no file; the socket file is removed below),
        # so it is killed at once; any worker it still has gets SIGKILL with it (_die_with_parent).
        _kill(pid)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        with contextlib.suppress(ChildProcessError):  # already reaped: nothing to wait for
            while not os.waitpid(pid, os.WNOHANG)[0]:
                if time.monotonic() > deadline:
                    _kill(pid)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        address = server._forkserver_address
        server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None
        if address and not multiprocessing.util.is_abstract_socket_namespace(address):
            with contextlib.suppress(OSError):
                os.unlink(address)


class RenderPool:
    """A short-lived pool of render workers; leaving the ``with`` block always kills them, in bounded time."""

    def __init__(self, workers: int, time_limit_seconds: float) -> None:
        self._previous_signals: dict[int, object] = {}
        self._counted = False
        # A monotonic deadline is a resource limit, not a reading of the wall clock.
        self._deadline = time.monotonic() + time_limit_seconds
        self._time_limit = time_limit_seconds
        self._pool_value: multiprocessing.pool.Pool | None = None
        self._start_error: BaseException | None = None
        # The starter thread and __exit__ decide under this lock who shuts the pool down: whoever
        # finds both the pool created and the block left. Without it, a pool finished just after
        # __exit__ looked would be left running.
        self._lock = threading.Lock()
        self._leaving = False
        self._shut_down = False
        # Starting the pool waits for the fork server to boot (a fresh interpreter importing
        # WeasyPrint and loading fonts, about a second of CPU) and to fork the workers; a thread
        # does that wait, so the caller builds the terms summary and the first parts meanwhile
        # on the other core instead of after it. It starts in __enter__, so that no pool exists
        # that __exit__ would not stop.
        self._starter = threading.Thread(target=self._start, args=(workers,), name="render-pool-start", daemon=True)

    def _start(self, workers: int) -> None:
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            # One part per worker process: WeasyPrint's memory is freed with the process, so the
            # peak stays at one part's worth per worker however long the conversation is.
            pool = context.Pool(processes=max(1, workers), maxtasksperchild=1, initializer=_die_with_parent)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread by _pool
            self._start_error = exc
            return
        with self._lock:
            self._pool_value = pool
            left = self._leaving
        if left:  # The render was stopped while the pool started: nobody else will stop it.
            self._stop_pool()

    @property
    def _pool(self) -> multiprocessing.pool.Pool:
        """The started pool, waiting for the background start to finish (its error raised here)."""
        self._starter.join()
        if self._pool_value is None:
            raise self._start_error or RuntimeError("render pool did not start")
        return self._pool_value

    def __enter__(self) -> RenderPool:
        try:
            # A command line render stopped with SIGTERM must still leave through __exit__, which
            # kills the workers; Ctrl-C already does (KeyboardInterrupt). Hosts that handle SIGTERM
            # themselves (the Dramatiq worker) keep their handler.
            if _in_main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                self._previous_signals[signal.SIGTERM] = signal.signal(signal.SIGTERM, _stop_render)
            global _pools_open
            with _pools_lock:
                _pools_open += 1
                self._counted = True
            self._starter.start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        with _signals_deferred() as deferred:
            with self._lock:
                self._leaving = True
                pool = self._pool_value
            if pool is not None:
                self._stop_pool()
            elif self._starter.is_alive():
                self._abandon_start(dying=kind is not None and issubclass(kind, (KeyboardInterrupt, SystemExit)))
            self._release_fork_server()
        for signum, previous in self._previous_signals.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        if deferred and kind is None:
            _stop_render(deferred[0], None)

    def _release_fork_server(self) -> None:
        """Leaving the last open pool of the process stops the fork server, once the workers are stopped.

        Not while this pool's start is still under way (the starter stops the pool it creates;
        the server then stays until the process exits, as before).
        """
        global _pools_open
        with _pools_lock:
            if not self._counted:
                return
            self._counted = False
            _pools_open -= 1
            if _pools_open or self._starter.is_alive() or not self._shut_down:
                return
            _stop_fork_server()

    def _abandon_start(self, dying: bool) -> None:
        """Leave while the pool is still starting: the starter stops it as soon as it exists.

        When this process is being stopped (Ctrl-C, SIGTERM), waiting for the fork server to finish
        booting under load could take longer than whoever stopped us waits, and a worker forked
        while the interpreter exits is one its exit handler would wait for: the fork server is
        killed instead, so the start fails at once and any worker it forked gets SIGKILL with it.
        """
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self._starter.is_alive() and time.monotonic() < deadline:
            if dying and _in_main_thread():
                # Again each round: the server may only now have been spawned.
                _kill(getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None))
            self._starter.join(0.2)

    def _stop_pool(self) -> None:
        """Kill the pool's workers within bounded time; calling it again does nothing."""
        with self._lock:
            if self._shut_down or self._pool_value is None:
                return
            self._shut_down = True
            pool = self._pool_value
        # Pool.terminate() can wait for good: its result handler may have left while a worker was
        # still writing a part's PDF into the result pipe, and the worker then holds the pipe's lock
        # that terminate() needs to post its sentinel; or a worker killed by other means still holds
        # the task queue's lock. So it runs in a thread of its own, and the workers still alive
        # after the grace period are killed by pid; that thread is a daemon and never holds us up.
        stopper = threading.Thread(target=pool.terminate, name="render-pool-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_GRACE_SECONDS)
        if stopper.is_alive():
            for process in list(pool._pool):  # noqa: SLF001 - the workers' pids are only there
                if process.exitcode is None:
                    _kill(process.pid)
            stopper.join(STOP_GRACE_SECONDS)

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
            self._stop_pool()
            raise TranscriptTimeout(f"transcript render exceeded {self._time_limit:g} s") from exc


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _kill(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextlib.contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """In the main thread, hold SIGINT and SIGTERM back while the workers are being stopped.

    A second Ctrl-C (or a SIGTERM after one) must not interrupt the clean-up half-way and leave
    workers behind; the clean-up is bounded, and the caller raises for a deferred signal after it.
    """
    deferred: list[int] = []
    if not _in_main_thread():
        yield deferred
        return
    previous = {signum: signal.signal(signum, lambda number, frame: deferred.append(number))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield deferred
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def _stop_render(signum: int, frame: object) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise RenderStopped(128 + signum)


def render_environment(read_blob: BlobReader, cache_dir: Path, template_dir: Path | None = None) -> RenderEnvironment:
    """Return what ``render_transcript`` runs on: this blob reader, the disk cache at ``cache_dir``, a RenderPool."""
    return RenderEnvironment(read_blob=read_blob, images=FileImageCache(cache_dir), start_workers=RenderPool,
                             template_dir=template_dir)
