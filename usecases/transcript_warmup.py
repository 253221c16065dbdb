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

import os
import threading

from pipeline.transcript.parts import render_glyph_sheet


def _leave_when_orphaned(parent: int, done: threading.Event) -> None:
    while not done.wait(0.2):
        if os.getppid() != parent:
            os._exit(1)


_done = threading.Event()
_watcher = threading.Thread(target=_leave_when_orphaned, args=(os.getppid(), _done), daemon=True)
_watcher.start()
try:
    render_glyph_sheet()
finally:
    _done.set()
    _watcher.join()
