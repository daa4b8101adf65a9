from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories import repository
from registry.categories.models import Category
from registry.categories.schemas import CategoryNode, CategoryUpdate
from registry.reference import service as reference
from service_kit.errors import NotFound, ValidationFailed


async def tree(session: AsyncSession) -> list[CategoryNode]:
    categories = await repository.list_all(session)
    nodes = {
        c.code: CategoryNode(
            code=c.code, name_zh=c.name_zh, name_en=c.name_en, required_qualification=c.required_qualification
        )
        for c in categories
    }
    roots: list[CategoryNode] = []
    for category in categories:
        node = nodes[category.code]
        if category.parent_code is None:
            roots.append(node)
        else:
            nodes[category.parent_code].children.append(node)
    return roots


async def require_leaf(session: AsyncSession, code: str, *, field: str = "category_code") -> Category:
    """The category an offering may belong to: one that exists and has no sub-categories."""
    category = await repository.get(session, code)
    if category is None:
        raise _invalid(field, f"No category {code!r}.", "unknown_category")
    if await repository.has_children(session, code):
        raise _invalid(field, f"{code!r} groups other categories; choose one of them.", "category_not_leaf")
    return category


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "body", "message": message, "type": code}]
    )


async def update(session: AsyncSession, code: str, data: CategoryUpdate) -> CategoryNode:
    category = await repository.get(session, code)
    if category is None:
        raise NotFound("No category with this code.", code="category_not_found")
    category.required_qualification = data.required_qualification
    await session.flush()
    await reference.changed(session, category)
    return CategoryNode(
        code=category.code,
        name_zh=category.name_zh,
        name_en=category.name_en,
        required_qualification=category.required_qualification,
    )


async def required_qualification(session: AsyncSession, code: str) -> str | None:
    """The qualification an offering of ``code`` needs: the leaf's own, else its parent's."""
    category = await repository.get(session, code)
    while category is not None:
        if category.required_qualification is not None:
            return category.required_qualification
        category = await repository.get(session, category.parent_code) if category.parent_code else None
    return None
