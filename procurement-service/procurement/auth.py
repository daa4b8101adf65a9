"""Who may call what in procurement: ``Annotated`` aliases for the roles the endpoints admit (admin always passes).

An auditor reads every record an official reads (the ``…Reader`` aliases) and changes nothing: no alias that
admits a write names the auditor.

A street-scoped official (a ``street_code`` in the token) sees and acts only on their street's records, wherever
they are reached: :func:`sees_street` decides, a list leaves the other streets' records out, and a single record of
another street (or of the district, no street) answers 404 as an unknown id does. Records that carry a street:
needs, calls (and their applications, reviews, notice and its objections), contracts (and everything under one:
deliverables, supervision, evaluations, callbacks, acceptance, disbursements, amendments, history), historical
projects. Records that follow another's street: a sanction the street of the contract that caused it, an audit
trail the street of its record. The dashboard counts the street's contracts, calls and historical projects only.

Records of no street that are the district's: funds (the budget every street's awards draw on) are readable by a
street official, fund, figures and audit trail, and never writable; a provider's past performance is its record
across the district, read by whoever may read its application. Acts that bind the whole district are refused to
a street-scoped official with 403 ``district_only`` (:func:`ensure_district_wide`): opening a fund, lifting a
sanction or imposing one (recording a failed acceptance, finalizing a final evaluation below the threshold), the
ranking of the whole needs pool. Public notices and open data are public: the same for everyone."""

from typing import Annotated

from fastapi import Depends

from service_kit.auth import Principal, Role, require_roles
from service_kit.errors import Forbidden

# Officials of the district's social affairs office (区社会办) run procurement.
Official = Annotated[Principal, Depends(require_roles(Role.official))]
# Who reads what officials read: officials and the district's auditors (审计), who change nothing.
OfficialReader = Annotated[Principal, Depends(require_roles(Role.official, Role.auditor))]
# Those who may act on a contract: officials, third-party evaluators, and the contracted provider's admin
# (whose access to a particular contract is checked against its provider).
ContractReader = Annotated[Principal, Depends(require_roles(Role.official, Role.evaluator, Role.provider_admin))]
# Those who may read a contract: the above, auditors, and the contracted provider's own system with an API key
# (``contracts:read``; ``deliverables:read`` for its deliverables; checked against the contract's provider).
ContractViewer = Annotated[
    Principal,
    Depends(require_roles(Role.official, Role.evaluator, Role.provider_admin, Role.auditor, Role.provider_system)),
]
# Who lists contracts: officials and auditors every one (of their street), a provider's system its own provider's.
ContractLister = Annotated[Principal, Depends(require_roles(Role.official, Role.auditor, Role.provider_system))]
# The parties who sign a contract: officials for the district, the contracted provider's admin for the provider
# (checked against the contract's provider).
ContractParty = Annotated[Principal, Depends(require_roles(Role.official, Role.provider_admin))]
# Expert reviewers (评审专家) score the applications of the calls they are assigned to.
Reviewer = Annotated[Principal, Depends(require_roles(Role.reviewer))]
# Who sees an applicant's past performance: the call's reviewers (checked against their assignment), officials
# and auditors.
PerformanceReader = Annotated[Principal, Depends(require_roles(Role.reviewer, Role.official, Role.auditor))]
# A provider's admin applies to calls on its behalf.
ProviderAdmin = Annotated[Principal, Depends(require_roles(Role.provider_admin))]
# A third-party evaluator (第三方评估机构) declares and scores the contracts an official assigned to them.
Evaluator = Annotated[Principal, Depends(require_roles(Role.evaluator))]
# The call center: operators call back a random sample of a contract's residents; officials may draw too.
CallCenter = Annotated[Principal, Depends(require_roles(Role.operator, Role.official))]
# Who reads a contract's callbacks: the call center, evaluators and auditors.
CallbackReader = Annotated[
    Principal, Depends(require_roles(Role.operator, Role.official, Role.evaluator, Role.auditor))
]


def sees_all(principal: Principal | None) -> bool:
    """Officials, admins and auditors see every record of the district (drafts included), street scope aside."""
    return principal is not None and principal.has_any(Role.official, Role.admin, Role.auditor)


def sees_street(principal: Principal | None, street_code: str | None) -> bool:
    """Whether ``principal``'s street scope admits a record of ``street_code``: a district-wide caller (no street
    in the token) sees every street; a street-scoped official only records of their own street (a record of no
    street is the district's, above any one street)."""
    if principal is None or principal.street_code is None:
        return True
    return street_code == principal.street_code


def street_of_new(principal: Principal, requested: str | None) -> str | None:
    """The street a record ``principal`` creates belongs to: a street-scoped official's own (naming another is
    refused, 403 ``street_forbidden`` on ``street_code``); a district-wide caller's choice (None: the district's)."""
    if principal.street_code is None:
        return requested
    if requested is not None and requested != principal.street_code:
        raise Forbidden(
            f"You act for the street {principal.street_code}; this names the street {requested}.",
            code="street_forbidden",
            field="street_code",
        )
    return principal.street_code


def ensure_district_wide(principal: Principal, doing: str) -> None:
    """Refuse (403 ``district_only``) an act that binds the whole district to a street-scoped official."""
    if principal.street_code is not None:
        raise Forbidden(
            f"You act for the street {principal.street_code}; {doing} binds the whole district, "
            "a district-wide official does it.",
            code="district_only",
        )
