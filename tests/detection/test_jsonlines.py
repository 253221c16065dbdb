"""The peerguard scan protocol: one answer per line, same order, errors inline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.detection.jsonlines import scan_lines

ROOT = Path(__file__).resolve().parents[2]


def _answers(lines):  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in scan_lines(lines)]


def test_one_answer_per_line_in_order() -> None:
    lines = [json.dumps({"id": f"m{i}", "text": t}) for i, t in enumerate(["hello", "zelle?", "ok", "call 646 298 3371"])]
    answers = _answers(lines)
    assert [a["id"] for a in answers] == ["m0", "m1", "m2", "m3"]
    assert [bool(a["findings"]) for a in answers] == [False, True, False, True]


def test_bad_lines_yield_errors_and_the_stream_goes_on() -> None:
    lines = ["not json", "[1, 2]", '{"text": "no id"}', '{"id": "x"}', '{"id": "y", "text": 5}',
             '{"id": "z", "messages": "nope"}', '{"id": "ok", "text": "fine"}']
    answers = _answers(lines)
    assert len(answers) == 7
    assert [("error" in a) for a in answers] == [True] * 6 + [False]
    assert answers[3]["id"] == "x" and answers[6] == {"id": "ok", "findings": []}


def test_blank_lines_are_skipped() -> None:
    assert len(_answers(["", "   ", '{"id": 1, "text": "hi"}', "\n"])) == 1


def test_bytes_with_invalid_utf8_and_lone_surrogates() -> None:
    raw = b'{"id": "b", "text": "call \xff\xfe 646 298 3371"}\n'
    surrogate = '{"id": "s", "text": "\\ud800 zelle me"}'
    answers = _answers([raw, surrogate])
    assert answers[0]["findings"][0]["value"] == "+16462983371"
    assert answers[1]["findings"]


def test_conversation_findings_name_messages_and_per_message_spans() -> None:
    line = json.dumps({"id": "c", "messages": [{"sender": "s", "text": "my cell is 646"},
                                               {"sender": "s", "text": "298 3371"}]})
    (answer,) = _answers([line])
    (finding,) = answer["findings"]
    assert finding["messages"] == [0, 1]
    assert finding["spans"] == [{"message": 0, "start": 11, "end": 14}, {"message": 1, "start": 0, "end": 8}]
    assert (finding["start"], finding["end"]) == (11, 14)


def test_cli_streams_binary_stdin_to_stdout() -> None:
    data = b'{"id": "a", "text": "venmo me"}\n\xff\n{"id": "b", "text": "thanks"}\n'
    result = subprocess.run([sys.executable, "-c", "from peerguard.cli import main; main()", "scan"],
                            input=data, capture_output=True, check=True, timeout=60, cwd=ROOT)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a.get("id") for a in answers] == ["a", None, "b"]
    assert answers[0]["findings"][0]["kind"] == "payment" and "error" in answers[1]


def test_cli_help_explains_the_format() -> None:
    result = subprocess.run([sys.executable, "-c", "from peerguard.cli import main; main()", "scan", "--help"],
                            capture_output=True, text=True, check=True, timeout=60, cwd=ROOT)
    assert '"findings"' in result.stdout and '"messages"' in result.stdout and "error" in result.stdout


def test_cli_platform_domains_from_option_and_environment() -> None:
    data = b'{"id": "a", "text": "see goldbug.com/sale"}\n'
    command = [sys.executable, "-c", "from peerguard.cli import main; main()", "scan"]
    allowed = subprocess.run([*command, "--platform-domain", "goldbug.com"], input=data, capture_output=True,
                             check=True, timeout=60, cwd=ROOT)
    assert json.loads(allowed.stdout)["findings"] == []
    env = {"PEERGUARD_PLATFORM_DOMAINS": "goldbug.com, peermetals.com", "PATH": ""}
    from_env = subprocess.run(command, input=data, capture_output=True, check=True, timeout=60, cwd=ROOT, env=env)
    assert json.loads(from_env.stdout)["findings"] == []


def test_fast_path_and_general_path_agree() -> None:
    texts = ["call 646 298 3371", "caf\u00e9 zelle?", "plain clean text", "tab\there", 'quote " inside', "back\\slash"]
    for text in texts:
        compact = json.dumps({"id": "x", "text": text}, ensure_ascii=False)
        reordered = json.dumps({"text": text, "id": "x"})
        (fast,) = _answers([compact])
        (general,) = _answers([reordered])
        assert fast == general, text


def _scan_counter(monkeypatch):  # type: ignore[no-untyped-def]
    """Count the calls of jsonlines' scan_text, the memo emptied first (other tests filled it)."""
    from pipeline.detection import jsonlines

    calls: list[str] = []
    real = jsonlines.scan_text

    def counting(text, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(jsonlines, "scan_text", counting)
    monkeypatch.setattr(jsonlines, "_memos", {})
    return jsonlines, calls


def test_repeated_short_texts_are_answered_from_the_memo(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    jsonlines, calls = _scan_counter(monkeypatch)
    texts = ["Thanks!", "zelle me", "call 646 298 3371", "caf\u00e9 zelle?", "tab\there", "x" * 161 + " zelle"]
    lines = [json.dumps({"id": f"m{i}", "text": t}) for i, t in enumerate(texts * 3)]
    lines += [json.dumps({"text": t, "id": f"r{i}"}, ensure_ascii=False) for i, t in enumerate(texts)]  # general path
    answers = list(jsonlines.scan_lines(lines))
    # Each short text is scanned once whichever path read it; the long one (over MEMO_MAX_CHARS) every time.
    assert sorted(calls) == sorted(texts[:-1] + [texts[-1]] * 4)
    from pipeline.detection.scanner import scan_text

    for answer, line in zip(answers, lines, strict=True):
        request = json.loads(line)
        expected = {"id": request["id"], "findings": [f.to_json() for f in scan_text(request["text"])]}
        assert answer == json.dumps(expected, separators=(",", ":")), line
    assert [bool(json.loads(a)["findings"]) for a in answers[:6]] == [False, True, True, True, False, True]


def test_the_memo_is_per_platform_domain_setting_and_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    jsonlines, calls = _scan_counter(monkeypatch)
    monkeypatch.setattr(jsonlines, "MEMO_ENTRIES", 3)
    line = json.dumps({"id": "a", "text": "see goldbug.com/sale"})
    default = json.loads(next(jsonlines.scan_lines([line])))
    allowed = json.loads(next(jsonlines.scan_lines([line], platform_domains=("goldbug.com",))))
    assert default["findings"] and allowed["findings"] == []
    lines = [json.dumps({"id": str(i), "text": f"lot {i} zelle"}) for i in range(10)]
    first = list(jsonlines.scan_lines(lines))
    assert all(len(memo) <= 3 for memo in jsonlines._memos.values())
    assert list(jsonlines.scan_lines(lines)) == first  # answers after emptying equal the first ones
    assert len(calls) == 2 + 20
    for index in range(6):
        list(jsonlines.scan_lines([line], platform_domains=(f"shop{index}.com",)))
    assert 1 <= len(jsonlines._memos) <= jsonlines.MEMO_SETTINGS
