"""The only door WeasyPrint has to the outside: it serves this render's prepared images, nothing else."""

from __future__ import annotations

from collections.abc import Mapping

from weasyprint.urls import URLFetcher, URLFetcherResponse

from pipeline.transcript.served import SCHEME, image_url

__all__ = ["SCHEME", "FetchRefused", "TranscriptURLFetcher", "image_url"]


class FetchRefused(ValueError):
    """WeasyPrint asked for a URL that is not one of this render's prepared images."""


class TranscriptURLFetcher(URLFetcher):
    """Serve exactly the URLs in ``served`` (URL to JPEG bytes); refuse and record all others."""

    def __init__(self, served: Mapping[str, bytes]) -> None:
        # No redirects and no protocols: the parent's opener is never used by fetch() below.
        super().__init__(allowed_protocols=(SCHEME,), allow_redirects=False, fail_on_errors=False)
        self._served = dict(served)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        """Return the prepared image for ``url`` or raise FetchRefused."""
        data = self._served.get(url)
        if data is None:
            self.refused.append(url[:200])
            raise FetchRefused(f"refused URL outside this transcript: {url[:200]}")
        return URLFetcherResponse(url, data, {"Content-Type": "image/jpeg"})

    def open(self, url: object, data: object = None, timeout: object = None) -> URLFetcherResponse:
        """Route every opener call through fetch(), so no urllib handler can run."""
        return self.fetch(str(getattr(url, "full_url", url)))
