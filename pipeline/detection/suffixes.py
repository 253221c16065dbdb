"""Registrable-domain lookup against the public suffix list snapshot that tldextract ships.

We read tldextract's bundled ``.tld_set_snapshot`` file directly instead of importing the
package: ``import tldextract`` pulls in ``requests`` and urllib3 (about 0.2 s of start-up, a tenth
of the scan command's whole budget) and its extractor would look for a disk cache and, without
care, the network. Reading the file keeps the lookup offline by construction; a test checks that
the answers agree with ``tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SNAPSHOT_NAME = ".tld_set_snapshot"


@dataclass(frozen=True, slots=True)
class SuffixRules:
    """ICANN public suffix rules: exact suffixes, wildcard parents and exceptions."""

    exact: frozenset[str]
    wildcards: frozenset[str]
    exceptions: frozenset[str]


def _snapshot_path() -> Path:
    """Locate tldextract's bundled public suffix list without executing the package."""
    spec = importlib.util.find_spec("tldextract")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("tldextract is not installed; it ships the public suffix list we read")
    return Path(next(iter(spec.submodule_search_locations))) / SNAPSHOT_NAME


def parse_rules(text: str) -> SuffixRules:
    """Parse the ICANN section of a public suffix list."""
    exact: set[str] = set()
    wildcards: set[str] = set()
    exceptions: set[str] = set()
    for line in text.split("// ===END ICANN DOMAINS===")[0].splitlines():
        rule = line.strip().lower()
        # Internationalised suffixes are skipped: hosts reach us already folded to ASCII.
        if not rule or rule.startswith("//") or not rule.isascii():
            continue
        if rule.startswith("!"):
            exceptions.add(rule[1:])
        elif rule.startswith("*."):
            wildcards.add(rule[2:])
        else:
            exact.add(rule)
    return SuffixRules(frozenset(exact), frozenset(wildcards), frozenset(exceptions))


@lru_cache(maxsize=1)
def suffix_rules() -> SuffixRules:
    """Load the bundled snapshot once per process."""
    return parse_rules(_snapshot_path().read_text(encoding="utf-8"))


def public_suffix(host: str) -> str | None:
    """Return the longest ICANN public suffix of ``host``, or None if its TLD is unknown."""
    rules = suffix_rules()
    labels = host.lower().strip(".").split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if candidate in rules.exceptions:
            return ".".join(labels[i + 1 :])
        if i > 0 and ".".join(labels[i:]) in rules.wildcards:
            return ".".join(labels[i - 1 :])
        if candidate in rules.exact:
            return candidate
    return None


def registrable_domain(host: str) -> str | None:
    """Return the registrable domain (one label above the public suffix) of ``host``, or None."""
    host = host.lower().strip(".")
    suffix = public_suffix(host)
    if suffix is None or host == suffix:
        return None
    rest = host[: -len(suffix) - 1]
    label = rest.rsplit(".", 1)[-1]
    return f"{label}.{suffix}" if label else None
