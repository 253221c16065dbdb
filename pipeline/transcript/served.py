"""Opaque URLs under which one render's prepared images are served to WeasyPrint."""

SCHEME = "pg-transcript"


def image_url(token: str, sha256: str, long_side: int) -> str:
    """Return the URL of a prepared image for the render identified by ``token``."""
    return f"{SCHEME}://{token}/{sha256}-{long_side}.jpg"
