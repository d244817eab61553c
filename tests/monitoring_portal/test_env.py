"""Typed environment helpers: a wrong value is an error naming the variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from monitoring_portal.env import get_bool, get_choice, get_int, get_list, get_str


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("FALSE", False), ("1", True), ("off", False)])
def test_bool_accepts_true_false(raw: str, expected: bool) -> None:
    assert get_bool("DEBUG", not expected, environ={"DEBUG": raw}) is expected


@pytest.mark.parametrize("raw", ["ture", "enabled", "2"])
def test_bool_rejects_anything_else(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        get_bool("DEBUG", False, environ={"DEBUG": raw})


def test_int_and_choice_errors_name_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="API_PAGE_SIZE must be an integer"):
        get_int("API_PAGE_SIZE", 1, environ={"API_PAGE_SIZE": "ten"})
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be one of text, json"):
        get_choice("LOG_FORMAT", "text", ("text", "json"), environ={"LOG_FORMAT": "xml"})


def test_defaults_when_unset() -> None:
    assert get_int("X", 7, environ={}) == 7
    assert get_list("ALLOWED_HOSTS", ["a"], environ={}) == ["a"]
    assert get_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.example, b.example,"}) == [
        "a.example",
        "b.example",
    ]


def test_secret_from_file(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    assert get_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cr3t-value"
    with pytest.raises(ImproperlyConfigured, match="either SECRET_KEY or SECRET_KEY_FILE"):
        get_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret), "SECRET_KEY": "x"})
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        get_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})
