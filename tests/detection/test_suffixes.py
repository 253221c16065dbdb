"""Our reading of tldextract's bundled public suffix list agrees with tldextract, offline."""

from __future__ import annotations

import pytest

from pipeline.detection.suffixes import registrable_domain

HOSTS = ["www.peermetals.com", "shop.goldbug.co.uk", "bit.ly", "linktr.ee", "a.b.c.com.au", "x.github.io",
         "coins.shop", "foo.jpg", "localhost", "city.kawasaki.jp", "www.ck", "mint.gov"]


@pytest.mark.parametrize("host", HOSTS)
def test_agrees_with_tldextract_offline(host: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tldextract = pytest.importorskip("tldextract")
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)
    expected = extract(host).top_domain_under_public_suffix if hasattr(extract(host), "top_domain_under_public_suffix") \
        else extract(host).registered_domain
    assert (registrable_domain(host) or "") == expected


def test_module_never_imports_tldextract_itself() -> None:
    import subprocess
    import sys

    code = ("import sys; from pipeline.detection import scan_text; scan_text('see goldbug.com'); "
            "print('tldextract' in sys.modules, 'requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
