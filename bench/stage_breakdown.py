"""Where the scan stage's detection CPU goes: bench/stage_loop.py's loop with every scan timed and classed.

Each ``scan_text`` / ``scan_text_without_phones`` call of the loop is timed (``time.process_time``)
and classed by who asked for it and what the scanner's own gates said of the text:

* who: ``alone`` (a message on its own: the stage's per-message scan and the conversation's memo),
  ``window`` (``conversation._window_findings``'s joined runs), ``variant`` (``assembly``'s
  filler-dropped or glued variants, scanned without phones); a variant answered from the window
  memo costs no scan and is counted apart (``variant memo hits``);
* gates: ``plain`` (``scanner._plain_chat``: answered before normalise), ``shut`` (neither
  ``could_match`` nor ``decoders.may_apply`` on the normalised text), ``digits>=7`` (the gates are
  open and the text holds seven digits or more, which alone opens ``could_match`` and the decoders),
  ``open`` (the gates are open otherwise);
* whether the scan found anything.

The rest of the loop's CPU (runs, variants built, number pieces, memo, masking) is printed as
``not scanning``. The classing reads the gates again outside the timed calls and its CPU is left
out of every figure; the digest is the loop's (the same as bench/stage_loop.py's).

    N=5000 .venv/bin/python bench/stage_breakdown.py
"""

import collections
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
root = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, root)

from run_once_bench import scannable_messages, stage_batches  # noqa: E402

from pipeline.detection import conversation, decoders, languages, scanner  # noqa: E402
from pipeline.detection.gates import message_words  # noqa: E402
from pipeline.detection.normalise import normalise  # noqa: E402
from usecases import scanning  # noqa: E402

cpu: collections.Counter = collections.Counter()
calls: collections.Counter = collections.Counter()
timing = [0.0, 0.0]  # CPU inside timed scans; CPU classing them (both subtracted from the loop's)


def gates_of(text: str) -> str:
    if not text or scanner._plain_chat(text):
        return "plain"
    # As scanner._scan reads them: the gate of the normalised text, links rewritten.
    folded = normalise(text)
    gate = message_words(folded.text)
    linked = languages.rewrite_links(folded, gate)
    if linked is not folded:
        gate = message_words(linked.text)
    if not (scanner.could_match(linked.text, gate) or decoders.may_apply(text, gate)):
        return "shut"
    return "digits>=7" if gate.digits >= 7 else "open"


def timed(who: str, scan):
    def run(text, *args, **kwargs):
        start = time.process_time()
        found = scan(text, *args, **kwargs)
        spent = time.process_time() - start
        timing[0] += spent
        start = time.process_time()
        key = (who, gates_of(text if isinstance(text, str) else " ".join(text)), "found" if found else "nothing")
        timing[1] += time.process_time() - start
        cpu[key] += spent
        calls[key] += 1
        return found
    return run


# The stage's own scans of messages alone (usecases.scanning imported scan_text by name).
scanning.scan_text = timed("alone", scanner.scan_text)
# Windows and variants: _remembering's scanners call these module names.
conversation.scan_text = timed("window", scanner.scan_text)
conversation.scan_joined = timed("window", scanner.scan_joined)  # windows' scans, their parts given
conversation.scan_text_without_phones = timed("variant", scanner.scan_text_without_phones)
_remembering = conversation._remembering
memo_hits = [0]


def remembering(domains):
    scan, variant = _remembering(domains)
    seen: set[str] = set()
    inner_scan = scan

    def scan_remembered(text, parts=None):
        seen.add(text)
        return inner_scan(text, parts)

    def variant_counted(text):
        if text in seen:
            memo_hits[0] += 1
        return variant(text)

    return scan_remembered, variant_counted


conversation._remembering = remembering

count = int(os.environ.get("N", 5000))
msgs = scannable_messages(count)
domains = ("peermetals.com",)
scanning.detect([msgs[0]], {}, domains)
cpu.clear()
calls.clear()
timing[0] = timing[1] = 0.0
memo_hits[0] = 0

start = time.process_time()
out = []
for batch, context in stage_batches(msgs):
    d = scanning.detect(batch, context, domains)
    out.append((d.masked, d.records, d.remasked))
total = time.process_time() - start
print(f"loop cpu {total - timing[1]:.2f} s (without the classing), records {sum(len(o[1]) for o in out)}, "
      f"digest {hashlib.md5(repr(out).encode()).hexdigest()[:10]}")
print(f"{'who':8} {'gates':10} {'result':8} {'calls':>7} {'cpu s':>7} {'us/call':>8}")
for who in ("alone", "window", "variant"):
    for key in sorted(k for k in cpu if k[0] == who):
        print(f"{key[0]:8} {key[1]:10} {key[2]:8} {calls[key]:7d} {cpu[key]:7.3f} {1e6 * cpu[key] / calls[key]:8.1f}")
    spent = sum(v for k, v in cpu.items() if k[0] == who)
    print(f"{who:8} {'all':10} {'':8} {sum(v for k, v in calls.items() if k[0] == who):7d} {spent:7.3f}")
print(f"variant memo hits (the window scanned the same text): {memo_hits[0]}")
print(f"scanning {timing[0]:.3f} s, not scanning {total - timing[0] - timing[1]:.3f} s (runs, variants built, "
      f"number pieces, memo, masking, bookkeeping)")
