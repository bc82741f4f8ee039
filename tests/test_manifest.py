"""The Slack app manifest is valid against Slack's official schema, in Socket Mode and HTTP mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.slack.manifest import BOT_EVENTS, BOT_SCOPES, build_manifest, manifest_yaml

ROOT = Path(__file__).parent.parent
SCHEMA = Path(__file__).parent / "specs/slack/manifest-schema/schemas/manifest.schema.1.0.0.json"


def validate(manifest: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(manifest)


def test_manifest_yml_is_the_socket_mode_manifest() -> None:
    on_disk = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert on_disk == build_manifest()
    assert (ROOT / "manifest.yml").read_text() == manifest_yaml()


@pytest.mark.parametrize("url", [None, "https://bot.example.com"])
def test_manifest_is_valid_against_slacks_schema(url: str | None) -> None:
    manifest = build_manifest(url)
    validate(manifest)
    assert manifest["settings"]["socket_mode_enabled"] is (url is None)
    assert manifest["features"]["slash_commands"][0]["command"] == "/accounts"
    assert manifest["features"]["slash_commands"][0]["should_escape"] is True  # `@someone` arrives as `<@U…|name>`
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == set(BOT_EVENTS)


def test_an_invalid_manifest_is_caught_by_the_schema() -> None:
    manifest = build_manifest()
    manifest["display_information"]["name"] = "x" * 50  # Slack allows 35
    with pytest.raises(jsonschema.ValidationError):
        validate(manifest)


def test_http_manifest_fills_every_request_url() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "--url", "https://bot.example.com/"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    manifest = yaml.safe_load(out)
    validate(manifest)
    events = "https://bot.example.com/slack/events"
    assert manifest["features"]["slash_commands"][0]["url"] == events
    assert manifest["settings"]["interactivity"]["request_url"] == events
    assert manifest["settings"]["interactivity"]["message_menu_options_url"] == events
    assert manifest["settings"]["event_subscriptions"]["request_url"] == events
    assert manifest["oauth_config"]["redirect_urls"] == ["https://bot.example.com/slack/oauth_redirect"]


def test_manifest_command_refuses_a_non_https_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "--url", "http://x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "https://" in result.stderr
