"""The street of a community code: the part before its first dot."""

import pytest

from feedback.communities import street_of


@pytest.mark.parametrize(
    ("community_code", "street"),
    [
        ("gongchen.shidai_jiahe", "gongchen"),
        ("gongchen.shidai.jiahe", "gongchen"),
        ("FS-GY-001", None),
        ("", None),
        (None, None),
    ],
)
def test_street_of(community_code: str | None, street: str | None) -> None:
    assert street_of(community_code) == street
