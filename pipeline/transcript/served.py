"""Opaque URLs under which one render's prepared images are served to WeasyPrint, and links between parts."""

from urllib.parse import quote

SCHEME = "pg-transcript"


def image_url(token: str, sha256: str, long_side: int) -> str:
    """Return the URL of a prepared image for the render identified by ``token``."""
    return f"{SCHEME}://{token}/{sha256}-{long_side}.jpg"

# Links from the terms summary to message blocks: each part is rendered as its own document, so
# a fragment link ("#m-520") to a block drawn in a later part would be dropped by WeasyPrint;
# a URI of this scheme survives the part's render, and the joiner turns it into a jump.
MESSAGE_LINK_SCHEME = "pg-message"


def message_anchor(index: int) -> str:
    """Return the id (named destination) of the block of the conversation's message ``index``."""
    return f"m-{index}"


def message_link(index: int, external_id: str) -> str:
    """Return the link to the block of message ``index`` that the joiner resolves across parts."""
    return f"{MESSAGE_LINK_SCHEME}:{message_anchor(index)}?id={quote(external_id, safe='')}"
