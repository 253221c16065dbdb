#!/usr/bin/env python3
"""Verify a PeerGuard transcript PDF without PeerGuard: python3 verify_transcript.py FILE.pdf (pip install pikepdf pypdf).

Exit 0 when the chain recomputed from the embedded record matches every recorded link, the head
printed on page 1, and every page's digest; 1 otherwise, listing what differs.
"""
import hashlib
import json
import re
import sys

import pikepdf
import pypdf


def stream_bytes(stream):
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:
        return stream.read_raw_bytes()  # JPEG photos count as stored


def fold(resources, digest, seen):
    for kind in ("/XObject", "/Pattern"):
        named = resources.get(kind) if isinstance(resources, pikepdf.Dictionary) else None
        for name in sorted(named.keys()) if isinstance(named, pikepdf.Dictionary) else ():
            item = named[name]
            if item.is_indirect and item.objgen in seen:
                continue
            seen.add(item.objgen) if item.is_indirect else None
            digest.update(name.encode("ascii", "replace"))
            digest.update(stream_bytes(item)) if isinstance(item, pikepdf.Stream) else None
            fold(item.get("/Resources"), digest, seen)


def page_digest(page):
    digest, contents = hashlib.sha256(), page.obj.get("/Contents")
    for stream in (list(contents) if isinstance(contents, pikepdf.Array) else [contents] if contents is not None else []):
        digest.update(stream.read_bytes())
    fold(page.obj.get("/Resources"), digest, set())
    return digest.hexdigest()


pdf, problems = pikepdf.Pdf.open(sys.argv[1]), []
header, *lines = pdf.attachments["peerguard-record.jsonl"].get_file().read_bytes().decode().removesuffix("\n").split("\n")
header, link = json.loads(header), "0" * 64
for number, line in enumerate(lines):  # link_i = sha256(link_{i-1} + "\n" + canonical line i)
    link = hashlib.sha256(f"{link}\n{line}".encode()).hexdigest()
    if number >= len(header["links"]) or link != header["links"][number]:
        problems.append(f"message {json.loads(line)['message']} (number {number + 1}) does not match its link")
        break
problems += [f"chain ends in {link}, record says {header['head']}"] if link != header["head"] else []
found = re.search(r"Chain head\s*([0-9a-f\s]{64,100})", pypdf.PdfReader(sys.argv[1]).pages[0].extract_text())
if not found or re.sub(r"\s", "", found.group(1))[:64] != header["head"]:
    problems.append("page 1 does not show the record's chain head")
if [page_digest(page) for page in pdf.pages] != header["page_digests"]:
    problems.append(f"pages differ from the record ({len(pdf.pages)} pages, {header['pages']} recorded)")
print("\n".join(problems) or f"verified: {header['conversation']}, {len(lines)} messages, chain head {header['head']}")
sys.exit(1 if problems else 0)
