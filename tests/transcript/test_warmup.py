"""The render fork server's warm-up loads WeasyPrint without a gcc/ldconfig run per library name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import ctypes.util, json, sys
calls = []
original = ctypes.util.find_library
def counting(name):
    calls.append(name)
    return original(name)
ctypes.util.find_library = counting
import usecases.transcript_warmup
import weasyprint.text.ffi as ffi
print(json.dumps({"fallback_calls": calls, "restored": ctypes.util.find_library is counting,
                  "pango": ffi.pango is not None, "pangoft2": ffi.pangoft2 is not None}))
"""


def test_warm_up_answers_every_library_lookup_from_one_listing() -> None:
    # A fresh interpreter: WeasyPrint must not be imported yet when the warm-up runs.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"fallback_calls": [], "restored": True, "pango": True, "pangoft2": True}
