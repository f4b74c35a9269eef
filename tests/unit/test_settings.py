"""Settings: production refuses weak secrets; development creates a private key file once."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from xerotier.errors import ConfigurationError
from xerotier.settings import MIN_SECRET_KEY_LENGTH, SECRET_KEY_FILE, Environment, Settings

GOOD_SECRET = "k" * MIN_SECRET_KEY_LENGTH


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("XEROTIER_"):
            monkeypatch.delenv(name)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- production --------------------------------------------------------------------------------


def test_production_without_a_secret_key_refuses(tmp_path: Path) -> None:
    settings = Settings(env=Environment.PRODUCTION, data_dir=tmp_path, secret_key=None)
    with pytest.raises(ConfigurationError):
        settings.resolve_secret_key()
    assert not (tmp_path / SECRET_KEY_FILE).exists()  # no silent development key in production


@pytest.mark.parametrize(
    "placeholder",
    ["", "   ", "changeme", "CHANGEME", "change-me", "secret", " Secret ", "please-change-me", "xxx"],
)
def test_production_with_a_placeholder_secret_key_refuses(tmp_path: Path, placeholder: str) -> None:
    settings = Settings(env=Environment.PRODUCTION, data_dir=tmp_path, secret_key=placeholder)
    with pytest.raises(ConfigurationError):
        settings.resolve_secret_key()
    assert not (tmp_path / SECRET_KEY_FILE).exists()


@pytest.mark.parametrize("env", [Environment.PRODUCTION, Environment.DEVELOPMENT])
@pytest.mark.parametrize("length", [1, 16, MIN_SECRET_KEY_LENGTH - 1])
def test_a_short_secret_key_refuses_in_any_environment(tmp_path: Path, env: Environment, length: int) -> None:
    settings = Settings(env=env, data_dir=tmp_path, secret_key="s" * length)
    with pytest.raises(ConfigurationError):
        settings.resolve_secret_key()


def test_production_with_a_long_secret_key_uses_it(tmp_path: Path) -> None:
    settings = Settings(env=Environment.PRODUCTION, data_dir=tmp_path, secret_key=GOOD_SECRET)
    assert settings.is_production
    assert settings.resolve_secret_key() == GOOD_SECRET
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_production_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XEROTIER_ENV", "production")
    monkeypatch.setenv("XEROTIER_SECRET_KEY", "changeme")
    settings = Settings(data_dir=tmp_path)
    assert settings.is_production
    with pytest.raises(ConfigurationError):
        settings.resolve_secret_key()


def test_secret_key_is_not_in_the_repr(tmp_path: Path) -> None:
    settings = Settings(env=Environment.PRODUCTION, data_dir=tmp_path, secret_key=GOOD_SECRET)
    assert GOOD_SECRET not in repr(settings)


# -- development --------------------------------------------------------------------------------


def test_development_generates_a_private_key_file_and_reuses_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    first = Settings(env=Environment.DEVELOPMENT, data_dir=data_dir).resolve_secret_key()

    key_file = data_dir / SECRET_KEY_FILE
    assert key_file.is_file()
    assert _mode(key_file) == 0o600
    assert _mode(data_dir) & 0o077 == 0
    assert key_file.read_text().strip() == first
    assert len(first) >= MIN_SECRET_KEY_LENGTH

    second = Settings(env=Environment.DEVELOPMENT, data_dir=data_dir).resolve_secret_key()
    assert second == first
    assert _mode(key_file) == 0o600


def test_development_keys_differ_between_data_directories(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one").resolve_secret_key()
    two = Settings(data_dir=tmp_path / "two").resolve_secret_key()
    assert one != two


def test_development_treats_a_placeholder_as_missing(tmp_path: Path) -> None:
    key = Settings(env=Environment.DEVELOPMENT, data_dir=tmp_path, secret_key="changeme").resolve_secret_key()
    assert key != "changeme"
    assert (tmp_path / SECRET_KEY_FILE).read_text().strip() == key


def test_development_with_an_explicit_key_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(env=Environment.DEVELOPMENT, data_dir=tmp_path, secret_key=GOOD_SECRET)
    assert settings.resolve_secret_key() == GOOD_SECRET
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_development_is_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.env is Environment.DEVELOPMENT
    assert not settings.is_production


# -- database URL ------------------------------------------------------------------------------


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url is None
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'xerotier.db').resolve()}"
    assert settings.is_sqlite


def test_relative_data_dir_gives_an_absolute_sqlite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("data"))
    url = settings.effective_database_url
    assert url.startswith("sqlite+aiosqlite:////")  # three slashes, then an absolute path
    assert Path(url.removeprefix("sqlite+aiosqlite:///")) == (tmp_path / "data" / "xerotier.db").resolve()


def test_explicit_database_url_wins(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://x:y@db:5432/xerotier"
    settings = Settings(data_dir=tmp_path, database_url=url)
    assert settings.effective_database_url == url
    assert not settings.is_sqlite


def test_database_url_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XEROTIER_DATABASE_URL", "postgresql+asyncpg://db/x")
    assert Settings(data_dir=tmp_path).effective_database_url == "postgresql+asyncpg://db/x"


@pytest.mark.parametrize(
    "field", ["max_body_bytes", "upstream_pool_size", "key_cache_size", "usage_batch_size"]
)
@pytest.mark.parametrize("value", [0, -1])
def test_sizes_must_be_positive(tmp_path: Path, field: str, value: int) -> None:
    with pytest.raises(PydanticValidationError):
        Settings(data_dir=tmp_path, **{field: value})
