"""gazetteer: streets and towns, communities and service centers of Fangshan, seeded

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:30:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from service_kit.db import JSONDoc
from service_kit.migrations import timestamps

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Centroids are WGS-84, rounded to about ten metres; officials correct and extend them through the API.
STREETS = [
    ("gongchen", "拱辰街道", "Gongchen Subdistrict", "street", 39.7339, 116.1445),
    ("xilu", "西潞街道", "Xilu Subdistrict", "street", 39.7186, 116.1197),
    ("chengguan", "城关街道", "Chengguan Subdistrict", "street", 39.6990, 116.0050),
    ("changyang", "长阳镇", "Changyang Town", "town", 39.7637, 116.2103),
    ("liangxiang", "良乡镇", "Liangxiang Town", "town", 39.7081, 116.1567),
    ("yancun", "阎村镇", "Yancun Town", "town", 39.7290, 116.0950),
]
COMMUNITIES = [
    ("gongchen.shidai_jiahe", "gongchen", "时代家和社区", "Shidai Jiahe", 39.7295, 116.1520),
    ("gongchen.jiazhou_shuijun", "gongchen", "加州水郡社区", "Jiazhou Shuijun", 39.7418, 116.1593),
    ("gongchen.haotian", "gongchen", "昊天社区", "Haotian", 39.7262, 116.1395),
    ("gongchen.beiguan", "gongchen", "北关社区", "Beiguan", 39.7385, 116.1430),
    ("xilu.xiluyuan", "xilu", "西潞园社区", "Xiluyuan", 39.7215, 116.1240),
    ("xilu.beiluyuan", "xilu", "北潞园社区", "Beiluyuan", 39.7262, 116.1180),
    ("chengguan.yingfeng", "chengguan", "迎风社区", "Yingfeng", 39.7010, 116.0030),
    ("changyang.bandao", "changyang", "长阳半岛社区", "Changyang Bandao", 39.7700, 116.2150),
    ("changyang.tianxing", "changyang", "天兴家园社区", "Tianxing Jiayuan", 39.7580, 116.2050),
    ("liangxiang.suzhuang", "liangxiang", "苏庄社区", "Suzhuang", 39.7100, 116.1600),
    ("yancun.beishang", "yancun", "北上社区", "Beishang", 39.7300, 116.0960),
]
WEEKDAYS_8_TO_18 = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(6)]
CENTERS = [
    (
        uuid.UUID("6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1001"),
        "时代家和社区服务中心",
        "Shidai Jiahe Community Service Center",
        "房山区拱辰街道时代家和小区",
        39.7298,
        116.1512,
        ["老年餐桌", "日间照料室", "康复室", "阅览室"],
        ["gongchen.shidai_jiahe", "gongchen.haotian"],
    ),
    (
        uuid.UUID("6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1002"),
        "CSD社区综合服务中心",
        "CSD Community Service Center",
        "房山区长阳镇",
        39.7650,
        116.2100,
        ["老年餐桌", "儿童托管室", "心理咨询室", "多功能厅"],
        ["changyang.bandao", "changyang.tianxing"],
    ),
]


def upgrade() -> None:
    now = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
    street = op.create_table(
        "street",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("code", name="pk_street"),
    )
    community = op.create_table(
        "community",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("street_code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100)),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("code", name="pk_community"),
        sa.ForeignKeyConstraint(["street_code"], ["street.code"], name="fk_community_street_code_street"),
    )
    op.create_index("ix_community_street_code", "community", ["street_code"])
    op.create_index("ix_community_lat_lng", "community", ["lat", "lng"])
    center = op.create_table(
        "service_center",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200)),
        sa.Column("address", sa.String(300)),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("operator_id", sa.Uuid()),
        sa.Column("hours", JSONDoc, nullable=False),
        sa.Column("facilities", JSONDoc, nullable=False),
        sa.Column("communities", JSONDoc, nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_service_center"),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["organization.id"], name="fk_service_center_operator_id_organization"
        ),
    )
    op.create_index("ix_service_center_operator_id", "service_center", ["operator_id"])
    stamp = {"created_at": now, "updated_at": now}
    op.bulk_insert(
        street,
        [
            {"code": c, "name_zh": zh, "name_en": en, "kind": k, "lat": lat, "lng": lng, **stamp}
            for c, zh, en, k, lat, lng in STREETS
        ],
    )
    op.bulk_insert(
        community,
        [
            {"code": c, "street_code": s, "name_zh": zh, "name_en": en, "lat": lat, "lng": lng, **stamp}
            for c, s, zh, en, lat, lng in COMMUNITIES
        ],
    )
    op.bulk_insert(
        center,
        [
            {
                "id": id_,
                "name_zh": zh,
                "name_en": en,
                "address": address,
                "lat": lat,
                "lng": lng,
                "operator_id": None,
                "hours": WEEKDAYS_8_TO_18,
                "facilities": facilities,
                "communities": served,
                **stamp,
            }
            for id_, zh, en, address, lat, lng, facilities, served in CENTERS
        ],
    )


def downgrade() -> None:
    op.drop_table("service_center")
    op.drop_table("community")
    op.drop_table("street")
