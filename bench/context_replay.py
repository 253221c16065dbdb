"""The scan stage's detection alone: context_findings on bench/run_once_bench.py's corpus, against the full stretch scan.

Replays, in the scan stage's order, one call a message (the message new, its conversation's
earlier messages as context: what ``scan_pending`` asks when a batch holds one message of each
conversation) and times, in this process, alternating rounds of:

* ``windows``: ``context_findings`` as the scan stage calls it (only the windows holding the
  new message, or the whole stretch when an address is among the kept findings);
* ``stretch``: the whole stretch scanned and filtered (``_filtered_conversation``: what
  ``context_findings`` computed for every call before, keeping what the new message's windows
  reveal in earlier messages), with ``scan_text`` for every scan.

Both answers are compared call by call; CPU seconds (``time.process_time``) are printed per
round with the load average, and how many calls needed the whole stretch.

    .venv/bin/python bench/context_replay.py [--messages 4000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from run_once_bench import corpus  # noqa: E402

from pipeline.detection import conversation, scan_text  # noqa: E402
from pipeline.detection.scanner import DEFAULT_PLATFORM_DOMAINS  # noqa: E402

WINDOW = 6


def calls(messages: int, conversations: int) -> list[tuple[list[tuple[str, str]], int]]:
    """(the conversation so far, the new message's index), one per message, in corpus order."""
    sellers: dict[str, str] = {}
    chats: dict[str, list[tuple[str, str]]] = defaultdict(list)
    out = []
    for record in corpus(messages, conversations):
        if record["type"] == "conversation":
            sellers[record["id"]] = record["seller"]
        elif record["type"] == "message":
            chat = chats[record["conversation"]]
            chat.append(("seller" if record["sender"] == sellers[record["conversation"]] else "buyer", record["text"]))
            out.append((list(chat), len(chat) - 1))
    return out


def windows(chat, new):
    return conversation.context_findings(chat, [new], window=WINDOW)


def stretch(chat, new):
    first = max(0, new - 2 * WINDOW)
    part, wanted = chat[first : new + 1], {new - first}
    revealed = conversation._revealed(part, wanted, DEFAULT_PLATFORM_DOMAINS, WINDOW, scan_text)
    found = conversation._filtered_conversation(part, wanted, DEFAULT_PLATFORM_DOMAINS, WINDOW, scan_text, revealed)
    return [conversation._shifted(f, first) for f in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--conversations", type=int, default=0, help="default: a tenth of --messages")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    replay = calls(args.messages, args.conversations or args.messages // 10)
    needed_stretch = sum(conversation._touching(chat[max(0, n - 12) : n + 1], {min(n, 12)}, DEFAULT_PLATFORM_DOMAINS,
                                                WINDOW, scan_text)[0] is None for chat, n in replay)
    answers = {}
    for round_ in range(args.rounds):
        for name, run in (("windows", windows), ("stretch", stretch)):
            load = os.getloadavg()[0]
            started = time.process_time()
            found = [run(chat, n) for chat, n in replay]
            cpu = time.process_time() - started
            if name in answers:
                assert found == answers[name]
            answers[name] = found
            print(f"round {round_ + 1} {name:<8} {len(replay)} calls, {sum(map(len, found))} findings: {cpu:.2f} s CPU = "
                  f"{len(replay) / cpu:,.0f} calls/s; load {load:.1f} → {os.getloadavg()[0]:.1f}", flush=True)
    assert answers["windows"] == answers["stretch"], "the two answers differ"
    print(f"identical answers; {needed_stretch} of {len(replay)} calls needed the whole stretch")


if __name__ == "__main__":
    main()
