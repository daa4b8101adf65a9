import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from booking.timefmt import LocalDateTime

EligibilityTag = Literal["age_80_plus", "living_alone", "disabled", "low_income"]
ConsentChannel = Literal["app", "phone", "walk_in", "paper"]


def _distinct_sorted(tags: list[EligibilityTag]) -> list[EligibilityTag]:
    return sorted(set(tags))


EligibilityTags = Annotated[list[EligibilityTag], Field(max_length=8), AfterValidator(_distinct_sorted)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
# Not empty: what is no real phone (two digits typed) is the service's ``invalid_phone``, told with the other fields.
PhoneInput = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
IdCardInput = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
CommunityCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_.-]{1,32}$")]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AccessNotes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ACCESS_NOTES = Field(
    default=None,
    description="How the provider's staff get in (gate code, floor, who opens the door): shown only to the staff "
    "member assigned to a door-to-door visit, around its time.",
)
BirthDate = Annotated[date, Field(ge=date(1880, 1, 1))]


class Position(BaseModel):
    """A WGS-84 position (what GPS gives; convert GCJ-02 map coordinates before sending)."""

    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class EmergencyContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    phone: PhoneInput
    relation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None


class EmergencyContact(BaseModel):
    name: str
    phone: str
    relation: str | None


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        default="community_services", description="What the resident consented to."
    )
    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    channel: ConsentChannel


class ResidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    phone: PhoneInput = Field(
        description=(
            "A Chinese mobile or landline number, with or without +86; stored in E.164. A resident registering "
            "themself gives the phone they signed in with (their token's verified `phone_number`)."
        )
    )
    community_code: CommunityCode | None = None
    eligibility_tags: EligibilityTags = Field(
        default_factory=list, description="Recorded by operators only; a self-registering resident sends none."
    )
    id_card_number: IdCardInput | None = Field(
        default=None, description="The 18-character resident ID number (checksum-validated, stored encrypted)."
    )
    birth_date: BirthDate | None = Field(default=None, description="Taken from the ID number when not given.")
    address: Address | None = None
    access_notes: AccessNotes | None = ACCESS_NOTES
    position: Position | None = Field(default=None, description="Where the address is (WGS-84).")
    emergency_contact: EmergencyContactIn | None = None
    consent: ConsentCreate | None = Field(
        default=None,
        description=(
            "Required: without it the registration is refused with 422 `consent_required` on `consent`, told together "
            "with the other bad fields (the phone, the ID number, the emergency contact's phone), so an operator "
            "fixes them all at once."
        ),
    )


class ResidentUpdate(BaseModel):
    """A correction: only the fields sent change; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    phone: PhoneInput | None = Field(
        default=None,
        description=(
            "A resident changes their own phone only to one they have just verified: send the gateway's "
            "`phone_proof` of it too (`POST /api/v1/auth/otp/proof`). An operator needs none."
        ),
    )
    phone_proof: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = Field(
        default=None, description="The gateway's proof that the caller verified the new `phone`; never stored."
    )
    community_code: CommunityCode | None = None
    eligibility_tags: EligibilityTags | None = Field(default=None, description="Operators only.")
    id_card_number: IdCardInput | None = None
    birth_date: BirthDate | None = None
    address: Address | None = None
    access_notes: AccessNotes | None = ACCESS_NOTES
    position: Position | None = None
    emergency_contact: EmergencyContactIn | None = None

    def sent(self) -> dict[str, Any]:
        """The fields to change (the phone proof is none: it only vouches for the new phone)."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "phone_proof"}


class Consent(BaseModel):
    purpose: str
    version: str
    channel: str
    recorded_at: LocalDateTime


class Resident(BaseModel):
    id: uuid.UUID
    name: str
    phone: str = Field(description="E.164 for operators, admins and the resident; masked (138****5678) otherwise.")
    community_code: str | None
    eligibility_tags: list[str]
    id_card_number: str | None = Field(default=None, description="Always masked: 1101**********1234.")
    birth_date: date | None = None
    address: str | None = None
    access_notes: str | None = None
    position: Position | None = None
    emergency_contact: EmergencyContact | None = None
    consent: Consent
    created_at: LocalDateTime
    updated_at: LocalDateTime


class ResidentSummary(BaseModel):
    """The resident as shown on a booking."""

    id: uuid.UUID
    name: str
    phone: str


class VisitArea(BaseModel):
    """Where a door-to-door visit goes, as far as planning needs: the community and its street, no address."""

    community_code: str
    community_name: str | None = None
    street_code: str | None = None


class ResidentLinkRequest(BaseModel):
    """The gateway, at a sign-in by phone code: which record is this verified phone, for this app account?"""

    model_config = ConfigDict(extra="forbid")

    phone: PhoneInput = Field(description="The phone the gateway has just verified (E.164).")
    account_subject: Annotated[str, StringConstraints(min_length=1, max_length=160)] = Field(
        description="The app account (the gateway's resident identity, its tokens' `sub`)."
    )
    consent_version: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = Field(
        default=None, description="The privacy notice version the resident accepted in the app at sign-in, if any."
    )


class ResidentLinkAnswer(BaseModel):
    resident_id: uuid.UUID = Field(description="The phone's resident record: the `resident_id` of the tokens.")


class ResidentLink(BaseModel):
    """An app account linked to the record (see the model's docstring for what the consent fields mean)."""

    model_config = ConfigDict(from_attributes=True)

    account_subject: str
    how: str
    consent_version: str
    consent_source: str
    at: LocalDateTime


GrantConsentChannel = Literal["phone", "walk_in", "paper"]
Relation = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class HelperGrantCreate(BaseModel):
    """A resident authorises a relative's own resident account (found by its phone) to act for them."""

    model_config = ConfigDict(extra="forbid")

    helper_phone: PhoneInput = Field(
        description=(
            "The relative's phone: it must be the phone of a resident account that has signed in to the app "
            "(422 `helper_not_signed_in` otherwise)."
        )
    )
    relation: Relation | None = Field(default=None, description="How the resident calls them: 女儿, 儿子, 侄女 …")
    consent_channel: GrantConsentChannel | None = Field(
        default=None,
        description=(
            "An operator records how the resident consented (`phone`, `walk_in`, `paper`; required for operators, "
            "422 `consent_required`). A resident granting in the app sends none: the channel is `app`."
        ),
    )


class HelperGrant(BaseModel):
    """An authorisation of ``helper`` to act for ``resident``; ``revoked_at`` set once it ended."""

    id: uuid.UUID
    resident_id: uuid.UUID
    helper_resident_id: uuid.UUID
    relation: str | None
    helper: ResidentSummary | None = Field(default=None, description="The helper, phone masked for all but staff.")
    resident: ResidentSummary | None = Field(default=None, description="The resident helped.")
    consent_channel: str
    granted_at: LocalDateTime
    revoked_at: LocalDateTime | None = None
    revoked_reason: str | None = None


class MergeRequest(BaseModel):
    """An operator merges a duplicate record of the same person into the survivor."""

    model_config = ConfigDict(extra="forbid")

    duplicate_id: uuid.UUID = Field(description="The record to merge away (it is gone afterwards).")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Why the two records are one person (what the operator checked)."
    )


class MergeResult(BaseModel):
    survivor: Resident
    duplicate_id: uuid.UUID
    bookings_moved: int
    helper_grants_moved: int
    evidence_moved: int = Field(description="Eligibility tags whose evidence (who verified it, its expiry) moved.")
    entitlement_units_moved: int = Field(description="Entitlement units the duplicate had drawn, now the survivor's.")
    series_moved: int
    waitlist_entries_moved: int = Field(description="The duplicate's places still in line, now the survivor's.")
    waitlist_entries_ended: int = Field(description="Later places in a line both waited in, ended (left).")
    calls_moved: int
    callbacks_moved: int
    urgent_calls_moved: int
    merged_at: LocalDateTime


class HelperLabel(BaseModel):
    """A helper as a booking shows who made it: "女儿 李红（代订）", or the masked phone."""

    resident_id: uuid.UUID
    name: str | None = None
    phone: str | None = Field(default=None, description="Always masked (138****5678).")
    relation: str | None = None


MAX_ERASURE_CHECK = 500


class ErasureCheck(BaseModel):
    """The gateway's reconciliation: which of these ids (its app accounts' records) are erased records?"""

    model_config = ConfigDict(extra="forbid")

    resident_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ERASURE_CHECK)


class ErasedResidents(BaseModel):
    erased: list[uuid.UUID] = Field(description="The ids asked about whose records are erased.")
