import logging

import pytest

from metrics.redaction import RedactQueryStrings, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"WebSocket /ws/stt/room/?role=doctor&name=Jane" [accepted]',
         '"WebSocket /ws/stt/room/?[redacted]" [accepted]'),
        ("GET /consultation/socket-status/ 200", "GET /consultation/socket-status/ 200"),
        ("/a/?x=1 and /b/?y=%20Z", "/a/?[redacted] and /b/?[redacted]"),
    ],
)  # fmt: skip
def test_redact_cuts_query_strings(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_filter_rewrites_message_and_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/stt/room/?name=Jane%20Doe"), None,
    )  # fmt: skip
    assert RedactQueryStrings().filter(record) is True
    assert "Jane" not in record.getMessage()
    assert "/ws/stt/room/?[redacted]" in record.getMessage()
