"""A resident erased in booking-service (``resident.erased``): feedback forgets what it holds of the person.

Kept, for the law, the audit and the scores: ratings' stars, dimensions and tags (an anonymised rating still
counts), complaints' category, severity, target, deadlines and the steps' who-did-what-when, needs' category and
community (what procurement's pool counted), the bookings feedback knows. Gone: everything they wrote and everything
written or recorded about them as a person — a rating's comment, a complaint's description, attachments, address and
position, the notes of its steps, a need's text — and the responses stored under an Idempotency-Key about them.
Their helper grants end. The resident id stays as the pseudonymous reference booking keeps too.

Applied in the consumer's transaction with the event's inbox row: a redelivered event changes nothing more."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints import service as complaints
from feedback.needs import service as needs
from feedback.ratings import service as ratings
from feedback.residents import repository
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import ResidentErased
from service_kit.events.envelope import Envelope
from service_kit.idempotency import forget_resident

# What a required text becomes once erased.
ERASED_TEXT = "（已删除）"

subscription = Subscription("resident-erasure")


@subscription.on(ResidentErased)
async def on_resident_erased(session: AsyncSession, event: ResidentErased, envelope: Envelope) -> None:
    await forget(session, event.resident_id)


async def forget(session: AsyncSession, resident_id: uuid.UUID) -> None:
    await complaints.forget_resident(session, resident_id, erased_text=ERASED_TEXT)
    await ratings.forget_resident(session, resident_id)
    await needs.forget_resident(session, resident_id, erased_text=ERASED_TEXT)
    await repository.end_grants_of(session, resident_id)
    await forget_resident(session, resident_id)
