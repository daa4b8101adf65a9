"""What production refuses to start with: the dev data key, and a public address that is not https://."""

import pytest

from service_kit.settings import ServiceSettings

PRODUCTION_KEY = "a-production-data-key-0123456789abcdef"


def test_the_public_address_is_one_url_without_a_trailing_slash() -> None:
    assert ServiceSettings().public_base_url == "http://127.0.0.1:8000"
    assert ServiceSettings(public_base_url="https://linli.example.cn/").public_base_url == "https://linli.example.cn"
    for wrong in ("linli.example.cn", "ftp://linli.example.cn", "https://linli.example.cn/?next=evil", "https:// a"):
        with pytest.raises(ValueError, match="public_base_url"):
            ServiceSettings(public_base_url=wrong)


def test_production_needs_a_data_key_and_an_https_public_address() -> None:
    with pytest.raises(ValueError, match="LINLI_DATA_KEY"):
        ServiceSettings(environment="production", public_base_url="https://linli.example.cn")
    with pytest.raises(ValueError, match="LINLI_PUBLIC_BASE_URL"):
        ServiceSettings(environment="production", data_key=PRODUCTION_KEY)
    settings = ServiceSettings(
        environment="production", data_key=PRODUCTION_KEY, public_base_url="https://linli.fangshan.gov.cn"
    )
    assert settings.public_base_url == "https://linli.fangshan.gov.cn"
