"""Split-message fuzz: what a change to conversation scanning finds and loses, across two checkouts.

Conversations are built from the texts of ../shared/eval (contact and clean messages of the
development sets, whole or cut at spaces into 2–6 fragments sent one after another, sometimes with
the other party's "?" / "ok" between) and bench/stream.py's chat (clean talk and the trade's own
numbers: prices, certs, tracking). Each is scanned whole (``conversation.scan_conversation``, with
a ``cached_scanner``) and written as one JSON line: its messages and its findings (kind, spans as
[message, start, end], value). Two runs with the same ``--seed`` and ``--count`` scan the same
conversations, so ``--compare`` names each finding one checkout has and the other lacks, with the
messages it spans: the evidence for or against a change to which windows are joined (see
docs/benchmarks.md, "Round 2, session 12").

    .venv/bin/python bench/split_fuzz.py [--count 2500] [--seed 1] > /tmp/new.jsonl
    PYTHONPATH=/other/checkout .venv/bin/python bench/split_fuzz.py > /tmp/base.jsonl   # its pipeline, these texts
    .venv/bin/python bench/split_fuzz.py --compare /tmp/new.jsonl /tmp/base.jsonl [--show 10]

Needs ../shared/eval (or ``--eval DIR``); without it, says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or HERE.parent)
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

SETS = ("contact-dev", "contact-adversarial-dev")
INTERJECTIONS = ("?", "ok", "what", "sure", "hm")


def eval_texts(folder: Path) -> list[str]:
    """Every message text of the development sets, single messages and conversations."""
    texts = []
    for name in SETS:
        for line in (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
        conversations = folder / f"{name}-conversations.jsonl"
        if conversations.exists():
            for line in conversations.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.extend(m["text"] for m in json.loads(line)["messages"])
    return texts


def fragments(rng: random.Random, text: str) -> list[str]:
    """The text cut at spaces into 2–6 pieces (one piece when it has a single word)."""
    words = text.split()
    if len(words) < 2:
        return [text]
    cuts = sorted(rng.sample(range(1, len(words)), rng.randint(2, min(6, len(words))) - 1))
    return [" ".join(words[a:b]) for a, b in zip([0, *cuts], [*cuts, len(words)], strict=True)]


def conversations(count: int, seed: int, texts: list[str]):
    """``count`` conversations of 6–24 messages (sender, text), the same for the same seed and texts."""
    import stream

    rng = random.Random(seed)
    chat = list(stream.messages(3000, seed=7)) + list(stream.dense_messages(1000))
    for _ in range(count):
        messages: list[tuple[str, str]] = []
        length, sender = rng.randint(6, 24), "buyer"
        while len(messages) < length:
            draw = rng.random()
            if draw < 0.55:  # chat, the sender keeping the turn 60 % of the time
                sender = sender if rng.random() < 0.6 else ("seller" if sender == "buyer" else "buyer")
                messages.append((sender, rng.choice(chat)))
            elif draw < 0.85:  # an eval text in fragments
                for piece in fragments(rng, rng.choice(texts)):
                    messages.append((sender, piece))
                    if rng.random() < 0.2:
                        messages.append(("seller" if sender == "buyer" else "buyer", rng.choice(INTERJECTIONS)))
            else:
                messages.append((sender, rng.choice(texts)))
        yield messages


def scan(args: argparse.Namespace) -> int:
    from pipeline.detection.conversation import cached_scanner, scan_conversation

    folder = Path(args.eval)
    if not (folder / f"{SETS[0]}.jsonl").exists():
        print(f"split_fuzz: no development sets in {folder} (../shared/eval): nothing to build conversations from",
              file=sys.stderr)
        return 2
    scanner = cached_scanner()
    out = sys.stdout
    for number, messages in enumerate(conversations(args.count, args.seed, eval_texts(folder))):
        found = scan_conversation(messages, scanner=scanner)
        findings = [[f.kind, [[s.message, s.start, s.end] for s in f.spans], f.value] for f in found]
        out.write(json.dumps({"conversation": number, "messages": messages, "findings": findings},
                             ensure_ascii=False) + "\n")
    return 0


def compare(first: str, second: str, show: int) -> int:
    """Findings of ``first`` missing from ``second`` ("only in first") and the other way round."""
    def read(path: str) -> dict[int, dict]:
        rows = (json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
        return {row["conversation"]: row for row in rows}

    a, b = read(first), read(second)
    if a.keys() != b.keys():
        print("split_fuzz: the two files hold different conversations (same --seed and --count?)", file=sys.stderr)
        return 2
    counts = {"only in first": 0, "only in second": 0}
    shown = 0
    for number in sorted(a):
        if a[number]["messages"] != b[number]["messages"]:
            print(f"split_fuzz: conversation {number} differs between the files", file=sys.stderr)
            return 2
        mine = {json.dumps(f) for f in a[number]["findings"]}
        theirs = {json.dumps(f) for f in b[number]["findings"]}
        for label, extra in (("only in first", mine - theirs), ("only in second", theirs - mine)):
            for finding in sorted(extra):
                counts[label] += 1
                if shown < show:
                    shown += 1
                    kind, spans, value = json.loads(finding)
                    print(f"conversation {number}, {label}: {kind} {value}")
                    touched = {s[0] for s in spans}
                    for k in range(max(0, min(touched) - 3), max(touched) + 1):  # three messages before, "*" its own
                        sender, text = a[number]["messages"][k]
                        print(f"    {k:3d} {'*' if k in touched else ' '} {sender}: {text[:120]}")
    print(f"{len(a)} conversations: {counts['only in first']} findings only in {first}, "
          f"{counts['only in second']} only in {second}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2500, help="conversations to build and scan")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval", default=str(HERE.parent.parent / "shared" / "eval"), help="the development sets' folder")
    parser.add_argument("--compare", nargs=2, metavar=("FIRST", "SECOND"), help="two outputs of this script to compare")
    parser.add_argument("--show", type=int, default=10, help="--compare: differences printed with their messages")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare, args.show)
    return scan(args)


if __name__ == "__main__":
    sys.exit(main())
