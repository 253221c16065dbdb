"""Attachment OCR benchmark: PeerGuard's image pipeline against the naive baseline, same run.

Quality on the labelled development images (``../shared/eval/images-dev``): precision and recall
per image and per kind, for

* PeerGuard: tesseract (sparse-text mode, grayscale, at most 2000 px) lines with boxes + zxing-cpp
  codes (second look at 2x) + the message detector (``storage.attachment_reader`` +
  ``usecases.attachment_scanning.findings_of``);
* the naive baseline of issue 14: default tesseract on the image as decoded, zxing-cpp on it, and
  a ~30-line regex (platform domain removed).

Speed on one core (the script pins itself with ``os.sched_setaffinity`` and one OpenMP thread):
a generated 12-megapixel JPEG photo with text and one without, decode included, median of
``--repeat`` runs after a warm-up, for both pipelines.

    .venv/bin/python bench/images_bench.py [--images DIR] [--repeat 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before tesseract loads: one core, as the floors say

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

from storage.attachment_reader import read_attachment  # noqa: E402
from usecases.attachment_scanning import findings_of  # noqa: E402

DEFAULT_IMAGES = ROOT.parent / "shared" / "eval" / "images-dev"
KINDS = ("phone", "email", "url", "handle", "payment")
DOMAINS = ("peermetals.com",)


# --- the naive baseline (issue 14's description: default tesseract, a QR reader, a ~30-line regex) --------

NAIVE_PATTERNS = {
    "phone": re.compile(r"(?:\+?1[\s.-]?)?\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b|tel:\+?\d+|SMSTO:\+?\d+"),
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|mailto:\S+"),
    "url": re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|io|me|app|ly|co)(?:/\S*)?\b", re.I),
    "handle": re.compile(r"\b(?:whats\s?app|telegram|signal|instagram|insta|ig|snapchat|snap|kik|discord|facebook|fb)\b", re.I),
    "payment": re.compile(r"\b(?:venmo|zelle|cash\s?app|paypal|western union|bitcoin|btc|eth)\b|\$[A-Za-z]\w+"
                          r"|\b(?:bc1|[13])[a-zA-HJ-NP-Z0-9]{25,39}\b|\b0x[0-9a-fA-F]{40}\b", re.I),
}
PLATFORM = re.compile(r"(?:https?://)?(?:www\.)?(?:[\w-]+\.)*peermetals\.com\S*|support@peermetals\.com", re.I)


def naive_kinds(data: bytes) -> set[str]:
    """The baseline: default tesseract on the decoded image, zxing-cpp on it, regexes over both."""
    import tesserocr
    import zxingcpp

    image = Image.open(io.BytesIO(data))
    image.load()
    text = tesserocr.image_to_text(image.convert("RGB"), path=_tessdata())
    text += "\n" + "\n".join(code.text for code in zxingcpp.read_barcodes(image))
    text = PLATFORM.sub(" ", text)
    return {kind for kind, pattern in NAIVE_PATTERNS.items() if pattern.search(text)}


def _tessdata() -> str:
    from storage.attachment_reader import TESSDATA_DIRS

    return next(p for p in TESSDATA_DIRS if Path(p, "eng.traineddata").exists())


def peerguard_kinds(data: bytes) -> set[str]:
    return {f.kind for f in findings_of(read_attachment(data), DOMAINS)}


# --- scoring --------------------------------------------------------------------------------------


def score(labels: list[dict], predicted: dict[str, set[str]]) -> dict:
    """Image-level precision/recall (any finding = flagged) and per-kind precision/recall."""
    tp = fp = fn = 0
    per_kind = {k: {"tp": 0, "fp": 0, "fn": 0} for k in KINDS}
    for rec in labels:
        found, gold = predicted[rec["file"]], rec["label"] == "contact"
        tp += bool(found) and gold
        fp += bool(found) and not gold
        fn += not found and gold
        for kind in KINDS:
            has, want = kind in found, kind in rec["kinds"]
            per_kind[kind]["tp"] += has and want
            per_kind[kind]["fp"] += has and not want
            per_kind[kind]["fn"] += want and not has
    return {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "tp": tp, "fp": fp, "fn": fn,
            "per_kind": {k: {"precision": _ratio(v["tp"], v["tp"] + v["fp"]), "recall": _ratio(v["tp"], v["tp"] + v["fn"]), **v}
                         for k, v in per_kind.items()}}


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


# --- speed ----------------------------------------------------------------------------------------


def twelve_megapixel(with_text: bool) -> bytes:
    """A 4000 x 3000 JPEG (q85): a lit table with a coin, sensor noise, and (optionally) a note with text."""
    size = (4000, 3000)
    base = Image.linear_gradient("L").resize(size).point(lambda v: 90 + v // 3)
    photo = Image.merge("RGB", (base, base, base.point(lambda v: v * 0.9)))
    draw = ImageDraw.Draw(photo)
    draw.ellipse((2300, 900, 3300, 1900), fill=(205, 170, 70), outline=(150, 120, 40), width=18)
    if with_text:
        draw.rectangle((500, 700, 1900, 1700), fill=(250, 247, 225))
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 70)
        for i, line in enumerate(["Thanks for the order!", "text me 602 555 0148", "or venmo @Coin-Guy-22"]):
            draw.text((570, 780 + i * 140), line, fill=(30, 30, 60), font=font)
    noise = Image.effect_noise(size, 12).convert("RGB")
    photo = Image.blend(photo, noise, 0.08).filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


def median_seconds(function, data: bytes, repeat: int) -> float:
    function(data)  # warm-up: model load, imports
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        function(data)
        runs.append(time.process_time() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    results: dict = {}
    labels_path = args.images / "labels.jsonl"
    if labels_path.exists():
        labels = [json.loads(line) for line in labels_path.read_text().splitlines() if line.strip()]
        for name, function in (("peerguard", peerguard_kinds), ("naive", naive_kinds)):
            started = time.process_time()
            predicted = {rec["file"]: function((args.images / rec["file"]).read_bytes()) for rec in labels}
            results[name] = score(labels, predicted)
            results[name]["cpu_s_per_image"] = (time.process_time() - started) / len(labels)
    else:
        print(f"{args.images} not found: quality figures skipped", file=sys.stderr)
    for label, with_text in (("12mp_text", True), ("12mp_no_text", False)):
        data = twelve_megapixel(with_text)
        results.setdefault("speed", {})[label] = {
            "peerguard_s": median_seconds(peerguard_kinds, data, args.repeat),
            "naive_s": median_seconds(naive_kinds, data, args.repeat),
            "peerguard_kinds": sorted(peerguard_kinds(data)),
        }
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        _print(results)
    return 0


def _print(results: dict) -> None:
    for name in ("peerguard", "naive"):
        if name not in results:
            continue
        r = results[name]
        print(f"{name:9} precision {r['precision']:.3f} recall {r['recall']:.3f} (tp {r['tp']} fp {r['fp']} fn {r['fn']}), "
              f"{r['cpu_s_per_image']:.3f} s CPU per dev image")
        for kind, k in r["per_kind"].items():
            print(f"    {kind:8} precision {k['precision']:.3f} recall {k['recall']:.3f} (tp {k['tp']} fp {k['fp']} fn {k['fn']})")
    for label, s in results["speed"].items():
        print(f"{label:13} peerguard {s['peerguard_s']:.3f} s  naive {s['naive_s']:.3f} s  ratio {s['naive_s'] / s['peerguard_s']:.2f}x  "
              f"(peerguard found: {', '.join(s['peerguard_kinds']) or 'nothing'})")


if __name__ == "__main__":
    raise SystemExit(main())
