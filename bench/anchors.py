"""Quality comparison: PeerGuard against public anchors on the shared development corpus.

Anchors, each called directly (no NLP model, no network):

* Presidio's pattern recognizers (presidio-analyzer): Phone, Email, Url, Crypto, Iban, AbaRouting;
* scrubadub's default detectors (email, phone, url, twitter, credential, credit card...);
* phonenumbers + regex (bench/baseline.py);
* all three OR-ed together.

Every detector is run through ``../shared/eval/run_eval.py`` as a JSON-lines command, so the
numbers come from the official scorer; the platform's own domain is allowed for all of them.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/anchors.py            # prints a Markdown table
    .venv/bin/python bench/anchors.py --serve presidio < messages.jsonl   # one anchor as a scanner
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVAL = ROOT.parent / "shared" / "eval" / "run_eval.py"
sys.path.insert(0, str(HERE))

# Presidio's email recognizer uses tldextract with its defaults, which would try to download the
# public suffix list; an empty URL list keeps it on the bundled snapshot.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TLDEXTRACT_CACHE", str(Path(tempfile.gettempdir()) / "peerguard-bench-tldextract"))

import baseline  # noqa: E402

PLATFORM = "peermetals.com"
Detector = Callable[[str], list[dict[str, object]]]
KINDS = ("phone", "email", "url", "handle", "payment", "intent")


def presidio_detector() -> Detector:
    """Presidio's pattern recognizers, called directly without the spaCy NLP engine."""
    from presidio_analyzer.predefined_recognizers import (
        AbaRoutingRecognizer,
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
    )

    recognizers = [PhoneRecognizer(), EmailRecognizer(), UrlRecognizer(), CryptoRecognizer(), IbanRecognizer(),
                   AbaRoutingRecognizer()]
    kinds = {"PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email", "URL": "url", "CRYPTO": "payment",
             "IBAN_CODE": "payment", "ABA_ROUTING_NUMBER": "payment"}

    def detect(text: str) -> list[dict[str, object]]:
        found = []
        for recognizer in recognizers:
            for result in recognizer.analyze(text, recognizer.supported_entities, None):
                matched = text[result.start : result.end]
                if PLATFORM not in matched.lower():
                    found.append({"kind": kinds.get(result.entity_type, "payment"), "start": result.start,
                                  "end": result.end, "match": matched, "score": result.score})
        return found

    return detect


def scrubadub_detector() -> Detector:
    """scrubadub's default detectors."""
    import scrubadub

    scrubber = scrubadub.Scrubber()
    kinds = {"phone": "phone", "email": "email", "url": "url", "twitter": "handle", "credit_card": "payment"}

    def detect(text: str) -> list[dict[str, object]]:
        found = []
        for filth in scrubber.iter_filth(text):
            if PLATFORM not in filth.text.lower():
                found.append({"kind": kinds.get(filth.type, filth.type), "start": filth.beg, "end": filth.end,
                              "match": filth.text})
        return found

    return detect


def union_detector() -> Detector:
    """Presidio, scrubadub and phonenumbers + regex OR-ed together."""
    parts = [presidio_detector(), scrubadub_detector(), baseline.baseline_findings]
    return lambda text: [finding for part in parts for finding in part(text)]


ANCHORS: dict[str, Callable[[], Detector]] = {
    "presidio": presidio_detector,
    "scrubadub": scrubadub_detector,
    "phonenumbers+regex": lambda: baseline.baseline_findings,
    "anchors OR-ed": union_detector,
}


def evaluate(command: str) -> dict:  # type: ignore[type-arg]
    """Run the official scorer on ``command`` and return its metrics."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, str(EVAL), "--cmd", command, "--conversations", "--show", "0",
                        "--json-out", out.name], check=True, capture_output=True, cwd=ROOT)
        return json.loads(Path(out.name).read_text())


def row(name: str, metrics: dict) -> str:  # type: ignore[type-arg]
    """One Markdown table row."""
    m, c = metrics["messages"], metrics["conversations"]
    kinds = " | ".join(f"{m['kind_recall'].get(k, 0):.2f}" for k in KINDS)
    return (f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {kinds} | "
            f"{c['precision']:.2f} / {c['recall']:.2f} / {c['f1']:.2f} |")


def main() -> None:
    """Score PeerGuard and every anchor, then print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=sorted(ANCHORS), help="act as a JSON-lines scanner for one anchor")
    args = parser.parse_args()
    if args.serve:
        baseline.serve(ANCHORS[args.serve]())
        return
    peerguard = Path(sys.executable).parent / "peerguard"
    commands = {"**PeerGuard**": f"{shlex.quote(str(peerguard))} scan"}
    for name in ANCHORS:
        commands[name] = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'anchors.py'))} --serve {shlex.quote(name)}"
    print("| detector | precision | recall | F1 | " + " | ".join(f"{k} recall" for k in KINDS)
          + " | conversations P / R / F1 |")
    print("|---|---:|---:|---:|" + "---:|" * len(KINDS) + "---:|")
    for name, command in commands.items():
        try:
            print(row(name, evaluate(command)), flush=True)
        except (subprocess.CalledProcessError, KeyError) as error:
            print(f"| {name} | failed: {error} |", flush=True)


if __name__ == "__main__":
    main()
