from procurement.notices.masking import mask_name, mask_text


def test_names_keep_only_the_family_name() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "*"


def test_phone_and_id_numbers_in_free_text_are_masked() -> None:
    text = "电话13812345678或+86 13900001111，身份证11010119900307451X，订单号2026112700001234567890。"
    masked = mask_text(text)
    assert "138****5678" in masked
    assert "139****1111" in masked
    assert "110101************" in masked
    assert "2026112700001234567890" in masked  # a long number that is neither is left alone
