"""The scan stage's detection in the steady state of live traffic: long conversations, messages arriving round-robin.

bench/stage_loop.py feeds run_once_bench's corpus: 10 messages a conversation, in load order
(a batch holds ~20 conversations' runs), so most new messages have a short context. In live
traffic (bench/e2e_load.py, the workers) a batch of 200 holds 200 conversations' next message,
and after a conversation's first dozen messages every new one has the full context
(``usecases.scanning.CONTEXT_BEFORE`` earlier messages): more windows and assembled variants reach
it. This loop builds that: ``C`` conversations, ``K`` messages each, bench/stream.py's texts
(the e2e driver's), senders buyer 55 % / seller 45 %, arriving round-robin, in batches of 200
with their context (``run_once_bench.stage_batches``); the memo carries across batches as in a
worker. It prints detection's CPU a message over all of it and over the steady part (after each
conversation's 15th message), the records and a digest (equal digests: equal results, across
checkouts).

    .venv/bin/python bench/steady_loop.py                      # C=400 K=40
    C=400 K=20 valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/steady_loop.py
    PYTHONPATH=/other/checkout .venv/bin/python bench/steady_loop.py   # another checkout, from its directory
    PROFILE=cumulative .venv/bin/python bench/steady_loop.py   # cProfile
"""

import hashlib
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
root = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, root)

import stream  # noqa: E402
from run_once_bench import stage_batches  # noqa: E402

from storage.scanning import ScannableMessage  # noqa: E402
from usecases import scanning  # noqa: E402

CONVERSATIONS = int(os.environ.get("C", 400))
EACH = int(os.environ.get("K", 40))
WARM = 15  # a conversation's messages before the steady part (its context is full from the 13th)


def corpus() -> list[ScannableMessage]:
    texts = stream.messages(CONVERSATIONS * EACH, 1)
    rng = random.Random(1)
    clock = datetime(2026, 1, 1, tzinfo=UTC)
    messages = []
    for _ in range(EACH):
        for conversation in range(CONVERSATIONS):
            clock += timedelta(milliseconds=5)
            role = "buyer" if rng.random() < 0.55 else "seller"
            messages.append(ScannableMessage(len(messages) + 1, conversation, role, next(texts), clock))
    return messages


def main() -> None:
    messages = corpus()
    domains = ("peermetals.com",)
    scanning.detect([messages[0]], {}, domains)  # compile the detectors outside the timing
    out: list = []
    spent = {"all": 0.0, "steady": 0.0, "steady_messages": 0}
    steady_from = WARM * CONVERSATIONS

    def run() -> None:
        done = 0
        for batch, context in stage_batches(messages):
            started = time.process_time()
            detected = scanning.detect(batch, context, domains)
            cpu = time.process_time() - started
            spent["all"] += cpu
            if done >= steady_from:
                spent["steady"] += cpu
                spent["steady_messages"] += len(batch)
            done += len(batch)
            out.append((detected.masked, detected.records, detected.remasked))

    if os.environ.get("PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats(os.environ["PROFILE"]).print_stats(int(os.environ.get("LINES", 40)))
    else:
        run()
    steady = spent["steady"] / spent["steady_messages"] * 1e6 if spent["steady_messages"] else float("nan")
    print(f"C={CONVERSATIONS} K={EACH}: cpu {spent['all']:.2f} s ({spent['all'] / len(messages) * 1e6:.0f} µs a message); "
          f"steady part {steady:.0f} µs a message over {spent['steady_messages']}; "
          f"records {sum(len(o[1]) for o in out)}, digest {hashlib.md5(repr(out).encode()).hexdigest()[:10]}")


if __name__ == "__main__":
    main()
