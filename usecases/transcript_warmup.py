"""Imported only by the render fork server: one tiny render loads fonts before workers fork.

Every worker is forked from the fork server, so fontconfig and Pango caches filled here are
shared by all of them instead of being rebuilt, at close to a second, in each worker. The
render happens at import because importing is the only hook the fork server's preload offers;
nothing else imports this module.

The fork server only notices that the rendering process is gone once it serves requests, after
its preload; under load that preload (importing WeasyPrint, this render) took more than 15 s,
and a render killed meanwhile left the fork server running until it finished. So while it warms
up, a thread watches for the parent to go and ends the process at once. (PR_SET_PDEATHSIG would
fire when the parent's *thread* that started us ends, and the pool is started from a thread that
ends right after.) The thread is stopped before the server forks anything.
"""

import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator

from pipeline.transcript.parts import render_glyph_sheet


@contextlib.contextmanager
def _libraries_found_by_one_ldconfig() -> Iterator[None]:
    """While WeasyPrint is imported, look libraries up in one ``ldconfig -p`` listing.

    WeasyPrint loads Pango, HarfBuzz, fontconfig… by trying several names each through cffi, which
    calls ``ctypes.util.find_library`` for every name; on Linux each call runs ``ldconfig -p`` and,
    when that finds nothing, gcc and ld: importing WeasyPrint started 86 processes (22 ldconfig,
    16 gcc, 16 collect2, 32 ld), on the path to the first part. Here one listing answers every name
    as ``find_library``'s first step would (the library's soname), and a name it does not list
    gets None, so cffi goes on to the next spelling (the plain sonames load directly). Without a
    listing, nothing changes.
    """
    import ctypes.util

    original = ctypes.util.find_library
    try:
        listing = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, timeout=30,
                                 env={"LC_ALL": "C", "LANG": "C"}, check=False).stdout.decode("latin-1")
    except (OSError, subprocess.SubprocessError):
        listing = ""
    if not listing.strip():
        yield
        return

    def find_library(name: str) -> str | None:
        found = re.search(r"\s(lib%s\.[^\s]+)\s+\(" % re.escape(name), listing)
        return found.group(1) if found else None

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = original


def _leave_when_orphaned(parent: int, done: threading.Event) -> None:
    while not done.wait(0.2):
        if os.getppid() != parent:
            os._exit(1)


_done = threading.Event()
_watcher = threading.Thread(target=_leave_when_orphaned, args=(os.getppid(), _done), daemon=True)
_watcher.start()
try:
    with _libraries_found_by_one_ldconfig():
        import weasyprint  # noqa: F401 - loaded here, under the quick library lookup
    render_glyph_sheet()
finally:
    _done.set()
    _watcher.join()
