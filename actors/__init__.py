"""Dramatiq actors and their wiring. ``actors.broker`` must be imported before any actor module."""
