"""categories: the two-level service taxonomy, seeded (zh-CN first, English beside it)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (code, name_zh, name_en, [(leaf, name_zh, name_en), ...]) — the district's focus areas: 一老、一小、环保,
# public services brought into the community, counseling, volunteering and culture.
TAXONOMY = [
    (
        "elderly",
        "养老服务",
        "Elderly care",
        [
            ("home_care", "居家照护", "Home care"),
            ("meal_table", "老年餐桌", "Meal table for seniors"),
            ("health", "健康管理", "Health management"),
            ("housekeeping", "家政服务", "Housekeeping"),
            ("goods", "老年用品", "Goods for seniors"),
            ("day_care", "日间照料", "Day care"),
        ],
    ),
    (
        "children",
        "儿童服务",
        "Children",
        [
            ("education", "教育", "Education"),
            ("after_school", "课后托管", "After-school care"),
            ("safety", "云呵护安全守护", "Cloud care: child safety"),
        ],
    ),
    (
        "green",
        "绿色环保",
        "Green living",
        [
            ("recycling", "垃圾分类回收", "Waste sorting and recycling"),
            ("gardening", "社区园艺", "Community gardening"),
            ("swap", "二手置换", "Second-hand swap"),
            ("low_carbon", "低碳生活", "Low-carbon living"),
        ],
    ),
    (
        "public_services",
        "公共服务进社区",
        "Public services in the community",
        [
            ("urban_management", "城市管理", "Urban management"),
            ("drug_safety", "药品安全", "Drug safety"),
            ("family_planning", "计划生育", "Family planning"),
            ("statistics", "统计调查", "Statistical surveys"),
        ],
    ),
    ("counseling", "心理咨询", "Psychological counseling", [("individual", "个体心理咨询", "Individual counseling")]),
    ("volunteer", "志愿服务", "Volunteer services", [("companionship", "志愿陪伴", "Companionship visits")]),
    ("culture", "文化服务", "Cultural services", [("activities", "文化活动", "Cultural activities")]),
]


def upgrade() -> None:
    category = op.create_table(
        "category",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("parent_code", sa.String(64)),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_category"),
        sa.ForeignKeyConstraint(["parent_code"], ["category.code"], name="fk_category_parent_code_category"),
    )
    op.create_index("ix_category_parent_code", "category", ["parent_code"])
    rows = []
    for position, (code, name_zh, name_en, leaves) in enumerate(TAXONOMY):
        rows.append(
            {"code": code, "parent_code": None, "name_zh": name_zh, "name_en": name_en, "position": position * 100}
        )
        for leaf_position, (leaf, leaf_zh, leaf_en) in enumerate(leaves, start=1):
            rows.append(
                {
                    "code": f"{code}.{leaf}",
                    "parent_code": code,
                    "name_zh": leaf_zh,
                    "name_en": leaf_en,
                    "position": position * 100 + leaf_position,
                }
            )
    op.bulk_insert(category, rows)


def downgrade() -> None:
    op.drop_table("category")
