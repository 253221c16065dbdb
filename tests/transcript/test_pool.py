"""Leaving a RenderPool stops its workers in bounded time, whichever way the pool's own shutdown goes."""

from __future__ import annotations

import time

import pytest

import usecases.transcript_rendering as rendering
from tests.transcript.test_hostile import _alive, _wait_gone


@pytest.mark.slow
def test_leaving_kills_the_workers_even_when_the_pools_own_terminate_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendering, "STOP_GRACE_SECONDS", 1.0, raising=False)
    with rendering.RenderPool(2, 120) as pool:
        started = pool._pool  # waits for the start
        workers = {process.pid for process in started._pool}
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        # What a worker does while it writes a part's PDF into the result pipe that nobody reads
        # any more: it holds the pipe's write lock, and Pool.terminate() waits for that lock.
        started._outqueue._wlock.acquire()
        began = time.monotonic()
    try:
        assert time.monotonic() - began < 10
        assert not _wait_gone(workers, 10), "workers outlived the pool"
    finally:
        started._outqueue._wlock.release()  # lets the abandoned terminate() finish


@pytest.mark.slow
def test_leaving_twice_and_after_a_timeout_is_harmless() -> None:
    pool = rendering.RenderPool(1, 120)
    with pool:
        workers = {process.pid for process in pool._pool._pool}
        pool._stop_pool()  # what a time-out does
    pool.__exit__(None, None, None)
    assert not _wait_gone(workers, 10)


@pytest.mark.slow
def test_leaving_while_the_pool_is_still_starting_stops_it_once_started() -> None:
    pool = rendering.RenderPool(2, 120)
    with pool:
        pass  # left at once: the fork server is still booting
    pool._starter.join(60)
    assert not pool._starter.is_alive()
    started = pool._pool_value
    if started is not None:  # the starter itself stopped the pool it finished creating
        assert not _wait_gone({process.pid for process in started._pool}, 10)


@pytest.mark.slow
def test_the_fork_server_stops_with_the_last_pool_of_the_process() -> None:
    import multiprocessing.forkserver

    first = rendering.RenderPool(1, 120)
    with first:
        first._pool  # noqa: B018 - waits for the start
        server = multiprocessing.forkserver._forkserver._forkserver_pid
        assert server is not None and _alive(server)
        with rendering.RenderPool(1, 120) as second:
            second._pool  # noqa: B018
        # Another pool of the process (a Dramatiq thread's render) still needs the server.
        assert _alive(server)
        assert first.result(first.submit_glyph_sheet()).startswith(b"%PDF")
    assert multiprocessing.forkserver._forkserver._forkserver_pid is None
    assert not _wait_gone({server}, 10), "the fork server outlived the last pool"
    # The next render starts a new one.
    with rendering.RenderPool(1, 120) as again:
        assert again.result(again.submit_glyph_sheet()).startswith(b"%PDF")


@pytest.mark.slow
def test_leaving_does_not_wait_for_the_fork_server_to_tear_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # A clean exit of the server (its interpreter, WeasyPrint and fonts torn down) took 0.26-0.63 s
    # at load 7-8 that the join waited for; here it would take 4 s more. The server is killed instead.
    import multiprocessing.forkserver

    monkeypatch.setattr(rendering, "_PRELOAD", [*rendering._PRELOAD, "tests.transcript.slow_exit"])
    with rendering.RenderPool(1, 120) as pool:
        assert pool.result(pool.submit_glyph_sheet()).startswith(b"%PDF")
        server = multiprocessing.forkserver._forkserver._forkserver_pid
        assert server is not None and _alive(server)
        began = time.monotonic()
    assert time.monotonic() - began < 2.0
    assert multiprocessing.forkserver._forkserver._forkserver_pid is None
    assert not _alive(server)
