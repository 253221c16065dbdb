"""Dispute transcript rendering benchmark: our pipeline against plain WeasyPrint.

    .venv/bin/python bench/transcript_bench.py [--case A|B|all] [--data DIR]

Case A: 1,000 messages with 100 photos of 4000x3000 (about 3 MB JPEG each).
Case B: 10,000 messages without images.

The simple anchor ("simple") is what a developer would write first and what users compare with:
one Jinja2 template and a short stylesheet, WeasyPrint in one process, the 4000x3000 originals
referenced directly by file:// URL, "Page X of Y" from CSS counters. The project-templates anchor
("anchor") renders the same HTML (same templates, same CSS, same PDF/UA-1 option) as one
WeasyPrint document in one process, with the full-size photos referenced directly by file://
URL and WeasyPrint's own "Page X of Y" footer (and without the chain link lines, which in ours
the joiner draws into the space each message block reserves). Ours is ``render_transcript`` in a fresh process
(cold: no fork server, no font cache in memory) reading the photo derivatives that "prepare" wrote
just before in its own process, as the attachments queue does at import; that preparation is
measured and reported on its own row, not added to ours. Each side runs in its own subprocess; the parent samples the resident memory of that
subprocess and all its descendants (fork server and render workers included) every 20 ms and
reports the peaks of the RSS and PSS sums, plus getrusage's largest single process. Generated photos stay in
the data directory (default: a temp dir) and are never committed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CASES = {"A": {"messages": 1000, "photos": 100}, "B": {"messages": 10_000, "photos": 0}}
WORDS = ("gold silver coin bar ounce shipping price offer tracking invoice payment refund please "
         "thanks scratch grade mint proof krugerrand maple eagle insured parcel tomorrow").split()


def make_photos(directory: Path, count: int) -> list[Path]:
    """Write ``count`` distinct, deterministic 4000x3000 JPEGs of about 3 MB (reused if present)."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"photo-{i:03d}.jpg" for i in range(count)]
    if all(p.exists() for p in paths):
        return paths
    noise = Image.effect_noise((4000, 3000), 40).convert("RGB")
    gradient = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    base = Image.blend(gradient, noise, 0.3)
    rng = random.Random(5)
    for path in paths:
        tint = Image.new("RGB", base.size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        Image.blend(base, tint, 0.25).save(path, "JPEG", quality=85)
    return paths


def make_conversation(case: str, photo_paths: list[Path]):
    """Build the case's conversation; attachment blob keys are the photo file paths."""
    import hashlib

    from pipeline.transcript import SenderRole, TranscriptAttachment, TranscriptConversation, TranscriptMessage, TranscriptParty

    spec = CASES[case]
    rng = random.Random(11)
    every = spec["messages"] // spec["photos"] if spec["photos"] else 0
    messages = []
    for i in range(spec["messages"]):
        attachments = ()
        if every and i % every == every - 1:
            path = photo_paths[i // every]
            data = path.read_bytes()
            attachments = (TranscriptAttachment(path.name, "image/jpeg", len(data),
                                                hashlib.sha256(data).hexdigest(), str(path)),)
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        role = SenderRole.SELLER if i % 2 else SenderRole.BUYER
        messages.append(TranscriptMessage(f"m{i:05d}", role, "Sam Seller" if i % 2 else "Bea Buyer",
                                          NOW - timedelta(days=40) + timedelta(minutes=5 * i), body, (), attachments))
    return TranscriptConversation(f"bench-{case}", "ORD-1", "Bench", TranscriptParty("b", "Bea Buyer", "Europe/Paris"),
                                  TranscriptParty("s", "Sam Seller", "America/New_York"), tuple(messages))


def derivative_dir(case: str, data: Path) -> Path:
    return data / f"derivatives-{case}"


def run_prepare(case: str, data: Path, out: Path) -> dict[str, object]:
    """What the attachments queue does when photos arrive: write the 1600/480 px derivatives.

    Run and measured as its own process before ours, reported on its own row: in production it
    happens once per photo at import, long before any transcript is asked for.
    """
    from storage.image_cache import FileImageCache
    from usecases.attachments import prepare_derivatives

    conversation = make_conversation(case, make_photos(data / "photos", CASES[case]["photos"]))
    cache = derivative_dir(case, data)
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    images = FileImageCache(cache)
    started = time.perf_counter()
    count = 0
    for message in conversation.messages:
        for attachment in message.attachments:
            done = prepare_derivatives(images, attachment.sha256, Path(attachment.blob_key).read_bytes())
            count += len(done.prepared)
    return {"seconds": time.perf_counter() - started, "derivatives": count,
            "bytes": sum(p.stat().st_size for p in cache.rglob("*.jpg"))}


def run_ours(case: str, data: Path, out: Path) -> dict[str, object]:
    """Render with the pipeline from a fresh process, reading the derivatives ``prepare`` wrote.

    Without a ``prepare`` run before it (side list without "prepare") the cache is empty and the
    render decodes every original itself, as for photos imported before derivatives existed.
    """
    from pipeline.transcript import render_transcript
    from usecases.transcript_rendering import render_environment

    conversation = make_conversation(case, make_photos(data / "photos", CASES[case]["photos"]))
    cache = derivative_dir(case, data)
    prepared = cache.is_dir()
    if not prepared:
        cache = Path(tempfile.mkdtemp(prefix="transcript-cache-", dir=data))
    started = time.perf_counter()
    rendered = render_transcript(conversation, now=NOW,
                                 environment=render_environment(lambda k: Path(k).read_bytes(), cache))
    out.write_bytes(rendered.pdf)
    seconds = time.perf_counter() - started
    shutil.rmtree(cache)  # the next repetition prepares again, or renders cold again
    return {"seconds": seconds, "pages": rendered.pages, "bytes": len(rendered.pdf), "derivatives_prepared": prepared}


def run_anchor(case: str, data: Path, out: Path) -> dict[str, object]:
    """Render the same HTML as one plain WeasyPrint document, photos at full size by file:// URL."""
    import weasyprint
    from PIL import Image

    from pipeline.transcript import AttachmentOutcome, chain_links
    from pipeline.transcript.document import DocumentFacts, ShownImage, part_html, stylesheet_text, template_environment

    conversation = make_conversation(case, make_photos(data / "photos", CASES[case]["photos"]))
    started = time.perf_counter()
    outcomes, images = [], {}
    for message in conversation.messages:
        for attachment in message.attachments:
            with Image.open(attachment.blob_key) as image:
                width, height = image.size
            outcomes.append(AttachmentOutcome(message.external_id, attachment, "image", "image/jpeg"))
            images[(message.external_id, attachment.sha256)] = ShownImage(Path(attachment.blob_key).as_uri(), width, height)
    facts = DocumentFacts(conversation, chain_links(conversation), NOW, "anchor", False,
                          len(conversation.messages), tuple(outcomes), images)
    html = part_html(template_environment(None), facts, list(enumerate(conversation.messages)), True, True, None)
    css = stylesheet_text(None) + (
        '@page { @bottom-center { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; } }')
    pdf = weasyprint.HTML(string=html, base_url=str(data)).write_pdf(
        stylesheets=[weasyprint.CSS(string=css)], pdf_variant="pdf/ua-1")
    out.write_bytes(pdf)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "pages": pdf.count(b"/Type /Page\n") or None, "bytes": len(pdf)}


SIMPLE_TEMPLATE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Conversation {{ c.external_id }}</title></head>
<body><h1>Conversation {{ c.external_id }}</h1>
<p>Buyer {{ c.buyer.name }} · Seller {{ c.seller.name }} · Order {{ c.order_ref }}</p>
{% for m in c.messages %}<div class="m"><p class="meta">{{ m.sender_name }} · {{ m.sent_at.strftime("%Y-%m-%d %H:%M UTC") }} · {{ m.external_id }}</p>
<p>{{ m.body }}</p>{% for a in m.attachments %}<img src="{{ a.url }}" alt="{{ a.original_name }}">{% endfor %}</div>
{% endfor %}</body></html>"""
SIMPLE_CSS = """@page { size: A4; margin: 18mm 16mm 20mm;
  @bottom-center { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; } }
body { font: 9.5pt/1.35 "DejaVu Sans", sans-serif; } .m { margin: 0 0 3mm; } .meta { color: #555; font-size: 8pt; }
img { max-width: 100%; max-height: 150mm; display: block; }"""


def run_simple(case: str, data: Path, out: Path) -> dict[str, object]:
    """The obvious alternative: one Jinja2 template, WeasyPrint, originals referenced directly."""
    from types import SimpleNamespace

    import jinja2
    import weasyprint

    conversation = make_conversation(case, make_photos(data / "photos", CASES[case]["photos"]))
    started = time.perf_counter()
    messages = [SimpleNamespace(**{**m.__dict__, "attachments": [
        SimpleNamespace(original_name=a.original_name, url=Path(a.blob_key).as_uri()) for a in m.attachments]})
        for m in conversation.messages]
    view = SimpleNamespace(**{**conversation.__dict__, "messages": messages})
    html = jinja2.Environment(autoescape=True).from_string(SIMPLE_TEMPLATE).render(c=view)
    pdf = weasyprint.HTML(string=html, base_url=str(data)).write_pdf(stylesheets=[weasyprint.CSS(string=SIMPLE_CSS)])
    out.write_bytes(pdf)
    return {"seconds": time.perf_counter() - started, "pages": None, "bytes": len(pdf)}


def _tree_memory(root_pid: int, cpu: dict[int, float]) -> tuple[int, int, int]:
    """Sum RSS and PSS (bytes) of ``root_pid`` and every descendant, from /proc; also how many processes there are.

    RSS counts pages a forked worker shares with its fork server once per process, so the RSS
    sum overstates; PSS splits shared pages between the processes that share them. ``cpu`` is
    updated with each process's user+system seconds, since exited workers are not all reaped
    by a process that would fold them into getrusage.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
                ticks[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError):
                continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(children)
        frontier.extend(children)
    rss = pss = 0
    for pid in tree:
        cpu[pid] = max(cpu.get(pid, 0.0), ticks.get(pid, 0.0))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss, len(tree)


def measure(side: str, case: str, data: Path, baseline_code: Path | None = None) -> dict[str, object]:
    """Run one side in a fresh subprocess; sample its process tree's memory while it runs.

    Side "base" is "ours" rendered by the checkout at ``baseline_code`` (its own copy of this
    script, so its own pipeline), after its own "prepare" run, which is not reported.
    """
    out = data / f"{side}-{case}.pdf"
    script = __file__
    if side == "base":
        if baseline_code is None:
            raise SystemExit("side 'base' needs --baseline-code DIR")
        script = str(baseline_code / "bench" / "transcript_bench.py")
        measure("prepare", case, data)
    child_side = "ours" if side == "base" else side
    command = [sys.executable, script, "--child", child_side, "--case", case, "--data", str(data), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = [0, 0, 0]
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss, alive = _tree_memory(child.pid, cpu)
            peak[0], peak[1], peak[2] = max(peak[0], rss), max(peak[1], pss), max(peak[2], alive)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    done.set()
    sampler.join()
    figures = json.loads(stdout.strip().splitlines()[-1])
    figures.update({
        "side": side, "case": case, "process_seconds": time.perf_counter() - started,
        "tree_cpu_seconds": round(sum(cpu.values()), 1), "processes": len(cpu), "most_processes_at_once": peak[2],
        "tree_peak_rss_mb": round(peak[0] / 2**20, 1), "tree_peak_pss_mb": round(peak[1] / 2**20, 1),
        "max_single_rss_mb": round(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1),
        "exit": child.returncode,
    })
    return figures


def machine() -> str:
    """Describe the machine the figures come from."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = os.getloadavg()
    return f"nproc={os.cpu_count()}, CPU {model}, Python {platform.python_version()}, load average {load[0]:.2f}"


def side_order(sides: str, repetition: int) -> list[str]:
    """The sides in the order given, reversed on odd repetitions, "prepare" kept just before "ours"."""
    names = [s for s in sides.split(",") if s != "prepare"]
    if repetition % 2:
        names.reverse()
    if "prepare" in sides.split(","):
        names.insert(names.index("ours") if "ours" in names else len(names), "prepare")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="all", choices=["A", "B", "all"])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "peerguard-transcript-bench")
    parser.add_argument("--child", choices=["ours", "anchor", "simple", "prepare"])
    parser.add_argument("--sides", default="simple,prepare,ours",
                        help="Comma-separated sides to run: simple (the obvious alternative), anchor (project templates, plain), "
                             "prepare (the import-time photo derivatives, run just before ours and reported apart), ours, "
                             "base (ours as rendered by --baseline-code, after its own unreported prepare).")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="Alternate the sides this many times per case.")
    parser.add_argument("--baseline-code", type=Path,
                        help="A checkout (e.g. a git worktree of main) whose pipeline renders side 'base'.")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    if args.child:
        runner = {"ours": run_ours, "anchor": run_anchor, "simple": run_simple, "prepare": run_prepare}[args.child]
        print(json.dumps(runner(args.case, args.data, args.out)))
        return
    print(machine(), flush=True)
    for case in (["A", "B"] if args.case == "all" else [args.case]):
        if CASES[case]["photos"]:
            make_photos(args.data / "photos", CASES[case]["photos"])
        for repetition in range(args.repeat):
            # The sides run back to back, so they see about the same load from other work; every
            # other repetition runs them in reverse order ("prepare" stays just before "ours").
            rows = {side: measure(side, case, args.data, args.baseline_code)
                    for side in side_order(args.sides, repetition)}
            for row in rows.values():
                print(json.dumps(row), flush=True)
            ours = rows.get("ours")
            for name, base in rows.items():
                if ours is None or name in ("ours", "prepare"):
                    continue
                print(f"case {case}, ours / {name}: wall {ours['process_seconds'] / base['process_seconds']:.2f}x "
                      f"({ours['process_seconds']:.1f} s vs {base['process_seconds']:.1f} s), "
                      f"CPU {ours['tree_cpu_seconds'] / max(0.1, base['tree_cpu_seconds']):.2f}x "
                      f"({ours['tree_cpu_seconds']} s vs {base['tree_cpu_seconds']} s), "
                      f"processes {ours['processes']} vs {base['processes']} "
                      f"(at most {ours['most_processes_at_once']} vs {base['most_processes_at_once']} at once), "
                      f"tree peak RSS {ours['tree_peak_rss_mb'] / base['tree_peak_rss_mb']:.2f}x, "
                      f"tree peak PSS {ours['tree_peak_pss_mb'] / base['tree_peak_pss_mb']:.2f}x, "
                      f"PDF size {ours['bytes'] / base['bytes']:.3f}x, load average {os.getloadavg()[0]:.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
