"""The scan stage's detection without a database: ``usecases.scanning.detect`` (with its per-conversation memo).

bench/run_once_bench.py's corpus, in batches of 200 in load order, each conversation's 12 earlier
messages as its context (what ``conversation_context`` reads). Unlike bench/context_loop.py, the
memo's readings (texts alone, number pieces, kept ranges and pieces) carry across batches as in
the stage. Prints CPU seconds, the records and a digest of everything detected (equal digests:
equal results, across checkouts). For instruction counts:

    N=3000 valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/stage_loop.py   # and N=1000
    PYTHONPATH=/other/checkout N=3000 ...          # another checkout (run from its directory with its .venv)
    N=5000 PROFILE=cumulative .venv/bin/python bench/stage_loop.py                         # cProfile
"""

import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
root = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, root)

from run_once_bench import scannable_messages, stage_batches  # noqa: E402

from usecases import scanning  # noqa: E402

count = int(os.environ.get("N", 20000))
msgs = scannable_messages(count)
domains = ("peermetals.com",)
scanning.detect([msgs[0]], {}, domains)


def run():
    out = []
    for batch, context in stage_batches(msgs):
        d = scanning.detect(batch, context, domains)
        out.append((d.masked, d.records, d.remasked))
    return out


start = time.process_time()
if os.environ.get("PROFILE"):
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    out = profiler.runcall(run)
    pstats.Stats(profiler).sort_stats(os.environ["PROFILE"]).print_stats(40)
else:
    out = run()
print(f"cpu {time.process_time() - start:.2f} s, records {sum(len(o[1]) for o in out)}, digest {hashlib.md5(repr(out).encode()).hexdigest()[:10]}")
