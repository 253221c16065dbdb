"""`run --once`'s detection processes without a database: the stage's batches through them, CPU and a digest.

bench/run_once_bench.py's corpus in batches of 200, each conversation's 12 earlier messages as its
context (as bench/stage_loop.py), handed to ``P`` detection processes (``usecases.scan_processes.Detectors``,
or a checkout's ``ProcessPoolExecutor`` of ``scanning.detect`` where it has no ``Detectors``) with
the stage's look-ahead; prints this process's and the children's CPU seconds and a digest of
everything detected (equal digests: equal results, across checkouts). For instruction counts:

    N=2000 P=2 valgrind --tool=cachegrind --cache-sim=no --trace-children=yes \
        --cachegrind-out-file=/tmp/cg.%p .venv/bin/python bench/pool_loop.py      # one file a process
    cd /other/checkout && N=2000 .venv/bin/python /this/checkout/bench/pool_loop.py  # another checkout's code (run from its directory)
"""
import collections
import hashlib
import os
import resource
import sys
import time

sys.path.insert(0, os.getcwd() + "/bench")  # the checkout run from: its corpus and its code
sys.path.insert(0, os.getcwd())

from run_once_bench import scannable_messages, stage_batches

from usecases import scanning


def main():
    count = int(os.environ.get("N", 20000))
    P = int(os.environ.get("P", 2))
    msgs = scannable_messages(count)
    batches = list(stage_batches(msgs))
    domains = ("peermetals.com",)
    cpu, wall = time.process_time(), time.perf_counter()
    out = []
    from usecases import scan_processes as sp
    if hasattr(sp, "Detectors"):
        with sp.Detectors(P) as d:
            pending = collections.deque()
            for batch, context in batches:
                d.submit(domains, context, {m.id for m in batch})
                pending.append((batch, context))
                if len(pending) > P + 1:
                    b, c = pending.popleft()
                    out.append(scanning.joined(b, d.results(c), domains))
            while pending:
                b, c = pending.popleft()
                out.append(scanning.joined(b, d.results(c), domains))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(P, mp_context=multiprocessing.get_context("spawn"), initializer=sp._warm, initargs=(domains,)) as pool:
            pending = collections.deque()
            for batch, context in batches:
                pending.append(pool.submit(scanning.detect, batch, context, domains))
                if len(pending) > P + 1:
                    out.append(pending.popleft().result())
            while pending:
                out.append(pending.popleft().result())
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    digest = hashlib.md5(repr([(d.ids, d.masked, d.records, d.remasked) for d in out]).encode()).hexdigest()[:10]
    print(f"parent cpu {time.process_time() - cpu:.2f} s, children cpu {u.ru_utime + u.ru_stime:.2f} s, wall {time.perf_counter() - wall:.2f} s, digest {digest}")
if __name__ == "__main__":
    main()
