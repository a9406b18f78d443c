"""Settings: refused when wrong, and every one documented."""

import pytest
from pydantic import ValidationError

from app.settings import BUNDLED, Settings


def test_every_setting_is_documented():
    text = (BUNDLED / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"`DSM_{name.upper()}`" in text, name
        assert field.description, name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("database_url", "mysql://x"),
        ("port", 0),
        ("log_level", "LOUD"),
        ("max_body_bytes", -1),
        ("redis_url", "http://127.0.0.1:6379"),
        ("rate_limit", -1),
        ("max_concurrent_uploads", -1),
    ],
)
def test_bad_values_are_refused(name, value):
    with pytest.raises(ValidationError) as info:
        Settings(**{name: value}, _env_file=None)
    assert name in str(info.value)


def test_sqlite_sets_itself_up_and_postgresql_does_not():
    assert Settings(_env_file=None).setup_on_start
    assert not Settings(database_url="postgresql+psycopg://x@y/z", _env_file=None).setup_on_start


def test_an_empty_redis_url_means_no_redis():
    assert Settings(redis_url="", _env_file=None).redis_url is None
