"""Run one risky call in a child process with a time limit and an address-space cap.

A decoder that loops or allocates without end then costs the child, never the worker: the
parent gets ``SandboxFailure`` with a reason and carries on with the next file.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from typing import Any


class SandboxFailure(Exception):
    """The call ran out of time or memory, or its process died; the message says which."""


def run_limited(function: Callable[..., Any], args: tuple, seconds: float, memory_bytes: int) -> Any:
    """``function(*args)`` in a forked child; its exception is re-raised here, its result returned."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, function, args, memory_bytes), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise SandboxFailure(f"took longer than {seconds:g} s")
        try:
            ok, payload = receive.recv()
        except EOFError:
            child.join(5)
            raise SandboxFailure(_death(child.exitcode, memory_bytes)) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if ok:
        return payload
    raise payload


def _child(send, function, args, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        outcome = (True, function(*args))
    except MemoryError:
        outcome = (False, SandboxFailure(f"needed more than {memory_bytes >> 20} MiB of memory"))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which decides.
        outcome = (False, exc)
    try:
        send.send(outcome)
    except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled still reports.
        send.send((False, SandboxFailure(f"{type(exc).__name__}: {exc}")))
    send.close()


def _death(exitcode: int | None, memory_bytes: int) -> str:
    if exitcode is not None and exitcode < 0:
        return f"reader process killed by signal {-exitcode} (memory cap {memory_bytes >> 20} MiB)"
    return f"reader process exited with status {exitcode} (memory cap {memory_bytes >> 20} MiB)"
