"""The /v1 JSON API: one router per feature."""
