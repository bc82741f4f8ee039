"""No token or secret reaches a log line, whoever logs it."""

from __future__ import annotations

import logging

import pytest

from bot.redact import install_redaction, redact

SAMPLES = [
    "xoxb-1234-5678-abcdefABCDEF",
    "xapp-1-A1234-5678-abcdef",
    "xoxp-1234-5678-abcdef",
    "gAAAAABnZXhhbXBsZWNpcGhlcnRleHRvZmZlcm5ldA==",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.signaturepart",
]


@pytest.mark.parametrize("secret", SAMPLES)
def test_token_shapes_are_masked(secret: str) -> None:
    assert secret not in redact(f"response: {{'access_token': '{secret}', 'ok': True}}")


@pytest.mark.parametrize(
    "line",
    [
        "refresh_token=abcdef123456&grant_type=refresh_token",
        '{"refresh_token": "abcdef123456"}',
        "Authorization: Bearer abcdef123456",
        "code_verifier=abcdef123456",
    ],
)
def test_key_value_secrets_are_masked(line: str) -> None:
    assert "abcdef123456" not in redact(line)


def test_configured_secrets_are_masked_anywhere() -> None:
    assert "my-signing-secret" not in redact("secret is my-signing-secret!", ["my-signing-secret"])


def test_ordinary_text_is_left_alone() -> None:
    text = "Imported 120 customers from Xero (Demo Company) in 4.2 s"
    assert redact(text) == text


def test_records_from_any_logger_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    install_redaction(["signing-secret-value"])
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("slack_sdk.web.base_client").debug(
                "Received: %s", {"ok": True, "access_token": "xoxb-99-88-secret", "x": "signing-secret-value"}
            )
            try:
                raise ValueError("bad token xoxb-11-22-inexception")
            except ValueError:
                logging.getLogger("bot").exception("failed")
    finally:
        logging.setLogRecordFactory(previous)
    text = caplog.text
    assert "xoxb-99-88-secret" not in text and "signing-secret-value" not in text
    assert "xoxb-11-22-inexception" not in text
    assert "Received" in text and "ValueError" in text
