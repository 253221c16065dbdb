"""Property-based fuzzing of the HTTP API (schemathesis) against a real server, with a token of every scope.

Every operation of /v1/openapi.json gets generated requests, valid and (negative mode) invalid (wrong types,
missing fields, unknown fields, odd strings and ids); every answer must be below 500 and every
refusal must have the API's error shape ``{"error": {"code", "message"}}``. Bounded (40 examples
an operation, no deadline) and derandomized, so a CI run sees the same requests every time.
GET /v1/transcripts/{id} answers a PDF once rendered; nothing renders here (no workers), so it
answers 202/404 JSON.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

pytestmark = pytest.mark.postgres

WITHOUT_INPUT = {"GET /healthz", "GET /readyz"}
"""Operations with nothing to get wrong: no negative requests exist for them."""

def error_shape(ctx, response, case) -> None:
    """A refusal (4xx/5xx) carries {"error": {"code": str, "message": str, "field"?: str}}."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} with a body that is not JSON: {response.content[:200]!r}") from exc
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} without an error object: {body!r}"
    assert isinstance(error.get("code"), str) and error["code"], f"error without a code: {body!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"error without a message: {body!r}"
    assert set(error) <= {"code", "message", "field"}, f"unexpected error keys: {body!r}"
    assert "Traceback" not in response.text
    return None


def test_no_server_errors_and_every_refusal_has_the_error_shape(server, token):
    # Each operation gets its own Hypothesis test here rather than through schemathesis.pytest.from_fixture,
    # whose lazy parametrisation breaks on pytest 9 (it reads the node's private _nodeid).
    api = schemathesis.openapi.from_url(server + "/v1/openapi.json", timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    failures: dict[str, str] = {}
    for operation in operations:

        strategy = operation.as_strategy(GenerationMode.POSITIVE)
        if operation.label not in WITHOUT_INPUT:
            strategy |= operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=strategy)
        @settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
        def fuzz(case) -> None:
            case.call_and_validate(base_url=server, headers=headers, timeout=30, checks=[not_a_server_error, error_shape])

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - gather every operation's failure, then report them together
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
