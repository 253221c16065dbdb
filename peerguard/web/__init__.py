"""The web app (an ASGI app served by uvicorn): the versioned JSON API under /v1 and, later, the staff console."""
