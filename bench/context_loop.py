"""The scan stage's detection alone, no database: each message of bench/scan_stage_bench.py's corpus in its conversation.

For every message, in each conversation's order: ``scan_text`` of the message (remembered per
conversation, as the stage's memo does) and ``context_findings`` of the stretch ending with it
(12 earlier messages, the stage's context). Prints CPU seconds, the number of findings, a digest
of them (equal digests: equal findings, across checkouts) and the calls of the phone detector.
Meant for instruction counts, which a loaded machine does not disturb:

    N=3000 valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/context_loop.py   # and N=1000: the difference is per message
    PYTHONPATH=/other/checkout N=3000 ...                                                     # the same for another checkout
"""

import collections
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or os.path.dirname(HERE))

from run_once_bench import corpus  # noqa: E402

import pipeline.detection.conversation as conv  # noqa: E402
import pipeline.detection.scanner as scanner  # noqa: E402

calls = [0]
_find_phones = scanner.find_phones


def _counting(*args):
    calls[0] += 1
    return _find_phones(*args)


scanner.find_phones = _counting
count = int(os.environ.get("N", 20000))
conversations = collections.defaultdict(list)
for record in corpus(count, count // 10):
    if record["type"] == "message":
        conversations[record["conversation"]].append((record["sender"], record["text"]))
scanner.scan_text("warm up: call 415 555 0123, zelle")
start = time.process_time()
out = []
for messages in conversations.values():
    memo: dict = {}

    def scan(text, memo=memo):
        found = memo.get(text)
        if found is None:
            found = memo[text] = scanner.scan_text(text)
        return list(found)

    for i in range(len(messages)):
        scan(messages[i][1])
        out.append(conv.context_findings(messages[max(0, i - 12) : i + 1], [min(i, 12)], scanner=scan))
print(f"cpu {time.process_time() - start:.2f} s, findings {sum(map(len, out))}, digest "
      f"{hashlib.md5(repr(out).encode()).hexdigest()[:10]}, find_phones calls {calls[0]}")
