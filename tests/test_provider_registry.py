"""The registry, `bot`'s only door to the packages: settings per package under its prefix, every problem named at
once, the configured providers, the secrets to mask, and every package's name and title."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from providers import registry
from providers.registry import UnknownProvider
from providers.settings import ProviderSettingsError
from providers.xero.client import XeroProvider
from providers.xero.settings import XeroSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No package setting from this machine's environment, and no .env in the working directory."""
    prefixes = tuple(p.settings.env_prefix() for p in registry.PACKAGES.values())
    for name in list(os.environ):
        if name.upper().startswith(prefixes):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_real_defaults_and_nothing_configured() -> None:
    settings = registry.load_settings(None)

    xero = settings["xero"]
    assert isinstance(xero, XeroSettings) and not xero.configured
    assert xero.token_url == "https://identity.xero.com/connect/token"
    assert xero.api_url == "https://api.xero.com/api.xro/2.0"
    assert (xero.timeout, xero.token_timeout, xero.page_size, xero.retries) == (30.0, 10.0, 1000, 2)
    assert registry.configured(settings) == {}
    assert registry.secret_values(settings) == []


def test_overrides_go_to_the_package_of_their_prefix() -> None:
    settings = registry.load_settings(
        None,
        {
            "xero_client_id": "id",
            "XERO_CLIENT_SECRET": "secret",
            "xero_page_size": "500",
            "xero_api_url": "http://127.0.0.1:9/api.xro/2.0/",
            "slack_bot_token": "xoxb-not-a-package-setting",
        },
    )

    xero = settings["xero"]
    assert (xero.client_id, xero.client_secret, xero.page_size) == ("id", "secret", 500)
    assert xero.api_url == "http://127.0.0.1:9/api.xro/2.0"
    assert xero.configured


def test_the_environment_and_a_dotenv_file_are_read_under_the_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("XERO_CLIENT_ID=from-file\nXERO_CLIENT_SECRET=file-secret\nXERO_RETRIES=5\n")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "env-secret")

    from_file = registry.load_settings(tmp_path / ".env")["xero"]
    without_file = registry.load_settings(None, {"xero_retries": 1})["xero"]

    assert (from_file.client_id, from_file.client_secret, from_file.retries) == ("from-file", "env-secret", 5)
    assert (without_file.client_id, without_file.client_secret, without_file.retries) == (None, "env-secret", 1)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ProviderSettingsError) as caught:
        registry.load_settings(
            None,
            {"xero_api_url": "api.xero.com", "xero_page_size": "lots", "xero_token_timeout": "0", "xero_retries": -1},
        )

    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert [p.split(" ")[0] for p in problems] == [
        "XERO_TOKEN_TIMEOUT",
        "XERO_API_URL",
        "XERO_PAGE_SIZE",
        "XERO_RETRIES",
    ]
    assert all(" must " in p for p in problems), problems
    assert "XERO_API_URL must be an https:// URL" in caught.value.format_message()


@pytest.mark.parametrize(
    ("credentials", "offered"),
    [
        ({}, False),
        ({"xero_client_id": "id"}, False),
        ({"xero_client_secret": "s"}, False),
        ({"xero_client_id": "id", "xero_client_secret": "s"}, True),
    ],
)
def test_a_package_is_offered_only_with_both_credentials(credentials: dict[str, str], offered: bool) -> None:
    providers = registry.configured(registry.load_settings(None, credentials))
    try:
        assert list(providers) == (["xero"] if offered else [])
        assert all(isinstance(p, XeroProvider) for p in providers.values())
    finally:
        for provider in providers.values():
            provider.close()


def test_secrets_are_listed_for_masking_and_kept_out_of_repr() -> None:
    settings = registry.load_settings(None, {"xero_client_id": "id", "xero_client_secret": "very-secret-value"})

    assert registry.secret_values(settings) == ["very-secret-value"]
    assert "very-secret-value" not in repr(settings) and "id" in repr(settings["xero"])


def test_names_titles_and_credential_names_of_every_package() -> None:
    assert registry.known() == ("xero", "myob", "quickbooks")
    assert registry.titles() == {"xero": "Xero", "myob": "MYOB", "quickbooks": "QuickBooks"}
    assert registry.credential_names("xero") == "XERO_CLIENT_ID and XERO_CLIENT_SECRET"
    assert registry.credential_names("myob") == "MYOB_CLIENT_ID and MYOB_CLIENT_SECRET"
    assert registry.credential_names("quickbooks") == "QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET"
    assert XeroSettings.env_name("api_url") == "XERO_API_URL"


def test_get_provider_by_name() -> None:
    settings = registry.load_settings(None, {"xero_client_id": "id", "xero_client_secret": "s"})

    provider = registry.get_provider("xero", settings["xero"])
    try:
        assert (provider.name, provider.title, provider.organisation_noun) == ("xero", "Xero", "organisation")
    finally:
        provider.close()
    with pytest.raises(UnknownProvider, match=r"No accounting package called 'sage'; known: myob, quickbooks, xero\."):
        registry.get_provider("sage", settings["xero"])
    with pytest.raises(TypeError, match="xero needs XeroSettings"):
        registry.get_provider("xero", object())  # type: ignore[arg-type]
