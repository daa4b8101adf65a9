import httpx


async def test_the_taxonomy_is_a_public_two_level_tree(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/categories")
    assert response.status_code == 200, response.text
    tree = response.json()
    assert [c["code"] for c in tree] == [
        "elderly",
        "children",
        "green",
        "public_services",
        "counseling",
        "volunteer",
        "culture",
    ]
    elderly = tree[0]
    assert elderly["name_zh"] == "养老服务"
    assert [(c["code"], c["name_zh"]) for c in elderly["children"]] == [
        ("elderly.home_care", "居家照护"),
        ("elderly.meal_table", "老年餐桌"),
        ("elderly.health", "健康管理"),
        ("elderly.housekeeping", "家政服务"),
        ("elderly.goods", "老年用品"),
        ("elderly.day_care", "日间照料"),
    ]
    leaves = {leaf["code"]: leaf for root in tree for leaf in root["children"]}
    assert leaves["children.safety"]["name_zh"] == "云呵护安全守护"
    assert leaves["green.swap"]["name_en"] == "Second-hand swap"
    assert {"public_services.drug_safety", "counseling.individual", "volunteer.companionship"} <= set(leaves)
    assert all(leaf["children"] == [] for leaf in leaves.values())
    assert all(leaf["code"].startswith(root["code"] + ".") for root in tree for leaf in root["children"])
