"""Who may call which route: the role × route policy of Linli, in one table, enforced at the gateway.

How to read ``POLICY``
----------------------
Each row is ``Rule(methods, path, who, key)``:

- ``methods``: ``READ`` (GET, HEAD), ``WRITE`` (POST, PUT, PATCH, DELETE), ``ALL``, or a set such as ``POST``.
- ``path``: written like the services' OpenAPI paths. ``{booking_id}`` (or ``*``) stands for one path segment;
  ``/**`` at the end for anything below, the path itself included: ``/api/v1/contracts/**`` is the contracts
  list and everything under it. Rows ending in ``/**`` are a prefix's default, so that a route added later
  falls under a rule; a row without ``**`` names one route.
- ``who``: ``PUBLIC`` (anyone, signed in or not), ``SIGNED_IN`` (any signed-in caller; the service decides the
  rest), or the roles allowed, e.g. ``{OFFICIAL, ADMIN}``.
- ``key``: what a caller with an API key needs: ``NO_KEY`` (API keys cannot call it), ``ANY_KEY`` (any valid
  key of a provider's system, role ``provider_system``), or the scope the key must carry, e.g.
  ``Scope.bookings_write``. An Open311 application's key (role ``open311_client``, scope ``open311:requests``)
  passes only rows that name that scope: the ``/open311`` facade, nothing else.

When several rows match a request, the most specific wins: a row naming one route beats a ``/**`` default,
a longer path beats a shorter one, and a literal segment beats a ``{parameter}`` (so
``/api/v1/complaints/overdue`` beats ``/api/v1/complaints/{complaint_id}``). Only rows whose methods include
the request's method count.

What the gateway answers
------------------------
- no row for the method and path: 404 ``no_policy``. A route nobody has decided about does not exist at the
  edge (it is refused, never forwarded unchecked), and an anonymous prober learns nothing about it; the
  whole-stack test ``tests/test_policy.py`` fails for every such route of the OpenAPI document.
- an anonymous caller on a row that is not ``PUBLIC``: 401 ``unauthorized``.
- a signed-in caller none of whose roles is allowed: 403 ``role_forbidden``.
- an API key on a row with ``NO_KEY``: 403 ``route_not_for_api_keys``; without the row's scope: 403
  ``scope_missing``.

The table decides *which kind of caller* may reach a route. Which *objects* a caller may see or change
(their own bookings, their provider's offerings; another tenant's objects answer 404) stays the services'
business, checked again there for every request. ``admin`` appears where the services admit it (their
``require_roles`` lets an admin through everywhere except where a route acts as a provider or a reviewer).
Rows for the gateway's own endpoints (sign-in, accounts, API keys) document those endpoints' own checks; the
proxy enforces the rows of the routes it forwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, TypeAlias

from gateway.routes import matches
from service_kit.auth import MACHINE_ROLES, Principal, Role
from service_kit.auth import ApiKeyScope as Scope
from service_kit.errors import Forbidden, NotFound, Unauthorized

READ = frozenset({"GET", "HEAD"})
WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL = READ | WRITE
POST, PUT, PATCH, DELETE = (frozenset({m}) for m in ("POST", "PUT", "PATCH", "DELETE"))

Open = Literal["public", "signed in"]
PUBLIC: Open = "public"
SIGNED_IN: Open = "signed in"
KeyAccess: TypeAlias = Scope | Literal["any key", "no key"]
ANY_KEY: KeyAccess = "any key"
NO_KEY: KeyAccess = "no key"

RESIDENT, OPERATOR, OFFICIAL, ADMIN = Role.resident, Role.operator, Role.official, Role.admin
PROVIDER_ADMIN, PROVIDER_STAFF = Role.provider_admin, Role.provider_staff
REVIEWER, EVALUATOR, AUDITOR = Role.reviewer, Role.evaluator, Role.auditor

# Roles that come together often.
DISTRICT = frozenset({OFFICIAL, ADMIN})  # the district's civil-affairs office and the platform's admins
PROVIDER = frozenset({PROVIDER_ADMIN, PROVIDER_STAFF})
FILERS = frozenset({RESIDENT, OPERATOR, OFFICIAL, ADMIN})  # who files complaints, needs, Open311 requests
CONTRACT_READERS = frozenset({OFFICIAL, EVALUATOR, PROVIDER_ADMIN, ADMIN})
CONTRACT_VIEWERS = CONTRACT_READERS | {AUDITOR}
BOOKERS = frozenset({RESIDENT, OPERATOR, ADMIN}) | PROVIDER
BOOKING_READERS = BOOKERS | {OFFICIAL}
DELIVERERS = frozenset({OPERATOR, ADMIN}) | PROVIDER  # who moves a booking along (its provider, the call center)
ASSIGNERS = frozenset({OPERATOR, PROVIDER_ADMIN, ADMIN})  # who names the staff member delivering a booking
MANAGERS = frozenset({OFFICIAL, PROVIDER_ADMIN, ADMIN})  # who manages a provider's records
AUDITED = DISTRICT | {AUDITOR}  # who reads the district's procurement records: officials and auditors (no writes)


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    path: str
    who: frozenset[Role] | Open
    key: KeyAccess = NO_KEY
    specificity: tuple[int, int, int] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        segments = [s for s in self.path.strip("/").split("/") if s]
        fixed = [s for s in segments if s != "**"]
        literal = [s for s in fixed if s != "*" and not s.startswith("{")]
        object.__setattr__(self, "specificity", ("**" not in segments, len(fixed), len(literal)))

    def admits(self, principal: Principal) -> bool:
        if isinstance(self.who, str):  # PUBLIC or SIGNED_IN
            return True
        return bool(principal.roles & self.who)


def roles(*allowed: Role | frozenset[Role]) -> frozenset[Role]:
    out: set[Role] = set()
    for item in allowed:
        out |= item if isinstance(item, frozenset) else {item}
    return frozenset(out)


# fmt: off
POLICY: tuple[Rule, ...] = (
    #    method path (OpenAPI template; /** = and below)            who may call, API key (NO_KEY when left out)
    # ---- the gateway itself: sign-in, keys, accounts, providers' API keys, health, the API document
    Rule(POST,  "/api/v1/auth/token",                                     PUBLIC),
    Rule(POST,  "/api/v1/auth/refresh",                                   PUBLIC),
    Rule(POST,  "/api/v1/auth/logout",                                    PUBLIC),
    Rule(POST,  "/api/v1/auth/otp",                                       PUBLIC),
    Rule(POST,  "/api/v1/auth/otp/verify",                                PUBLIC),
    Rule(POST,  "/api/v1/auth/otp/proof",                                 roles(RESIDENT)),  # a new phone's proof
    Rule(READ,  "/api/v1/auth/me",                                        SIGNED_IN, ANY_KEY),  # a key's own
    Rule(READ,  "/api/v1/auth/otp/messages",                              roles(ADMIN)),  # the fake SMS outbox
    Rule(POST,  "/api/v1/auth/keys/rotate",                               roles(ADMIN)),
    Rule(POST,  "/api/v1/auth/otp/unlock",                                roles(OPERATOR, ADMIN)),  # a phone's codes
    Rule(READ,  "/.well-known/**",                                        PUBLIC),
    Rule(ALL,   "/api/v1/accounts/**",                                    roles(ADMIN)),
    # An operator lifts a resident account's sign-in lockout (the endpoint refuses them any other account).
    Rule(ALL,   "/api/v1/accounts/{account_id}/lockout",                  roles(OPERATOR, ADMIN)),
    Rule(ALL,   "/api/v1/api-keys/**",                                    roles(PROVIDER_ADMIN, ADMIN)),
    Rule(READ,  "/api/v1/home",                                           roles(RESIDENT)),  # a resident's own home
    Rule(READ,  "/healthz",                                               PUBLIC),
    Rule(READ,  "/livez",                                                 PUBLIC),
    Rule(READ,  "/readyz",                                                PUBLIC),
    Rule(READ,  "/openapi.json",                                          PUBLIC),
    Rule(READ,  "/docs/**",                                               PUBLIC),  # Swagger UI and its assets
    Rule(READ,  "/console/**",                                            PUBLIC),  # static files; data needs a token

    # ---- provider registry: organizations and their staff, qualifications, webhooks
    Rule(READ,  "/api/v1/organizations/**",                               PUBLIC, ANY_KEY),
    Rule(WRITE, "/api/v1/organizations/**",                               roles(OFFICIAL, PROVIDER_ADMIN, ADMIN)),
    Rule(POST,  "/api/v1/organizations/{organization_id}/verify",         DISTRICT),
    Rule(POST,  "/api/v1/organizations/{organization_id}/suspend",        DISTRICT),
    Rule(POST,  "/api/v1/organizations/{organization_id}/reinstate",      DISTRICT),
    Rule(READ,  "/api/v1/organizations/{organization_id}/status-history", DISTRICT),
    Rule(READ,  "/api/v1/organizations/{organization_id}/staff/**",       roles(OPERATOR, OFFICIAL, ADMIN, PROVIDER)),
    Rule(READ,  "/api/v1/organizations/{organization_id}/webhooks/**",    roles(PROVIDER_ADMIN, ADMIN), ANY_KEY),
    Rule(WRITE, "/api/v1/organizations/{organization_id}/webhooks/**",    roles(PROVIDER_ADMIN, ADMIN),
         Scope.webhooks_manage),
    Rule(READ,  "/api/v1/qualifications/**",                              DISTRICT),
    # ---- the catalogue: offerings, categories, places, the 15-minute circle
    Rule(READ,  "/api/v1/offerings/**",                                   PUBLIC, ANY_KEY),
    Rule(WRITE, "/api/v1/offerings/**",                                   MANAGERS, Scope.offerings_write),
    Rule(READ,  "/api/v1/categories/**",                                  PUBLIC, ANY_KEY),
    Rule(WRITE, "/api/v1/categories/**",                                  DISTRICT),
    Rule(READ,  "/api/v1/streets/**",                                     PUBLIC),
    Rule(WRITE, "/api/v1/streets/**",                                     DISTRICT),
    Rule(READ,  "/api/v1/communities/**",                                 PUBLIC),
    Rule(WRITE, "/api/v1/communities/**",                                 DISTRICT),
    Rule(READ,  "/api/v1/service-centers/**",                             PUBLIC),
    Rule(WRITE, "/api/v1/service-centers/**",                             DISTRICT),
    Rule(READ,  "/api/v1/circle/**",                                      DISTRICT),  # coverage and gaps: planning
    Rule(READ,  "/api/v1/circle/offerings",                               PUBLIC),
    # ---- open data (HSDS from the registry, OCDS from procurement)
    Rule(READ,  "/open-data/**",                                          PUBLIC),
    Rule(READ,  "/open-data/providers/{provider_id}/standing",            PUBLIC),  # procurement: past performance

    # ---- booking: residents, availability, bookings
    Rule(ALL,   "/api/v1/residents/**",                                   roles(OPERATOR, RESIDENT, ADMIN)),
    Rule(READ,  "/api/v1/residents",                                      roles(OPERATOR, ADMIN)),  # search by phone/ID
    Rule(READ,  "/api/v1/residents/communities",                          roles(OPERATOR, ADMIN)),
    # Helpers (the resident, an operator; the helper reads whom they help and may step down) under the default
    # row above; merging duplicate records is an operator's.
    Rule(POST,  "/api/v1/residents/{resident_id}/merge",                  roles(OPERATOR, ADMIN)),
    # Personal entitlements: officials state a programme's, operators record evidence and close re-checks; a
    # resident reads her own (the default residents row above).
    Rule(ALL,   "/api/v1/entitlements/**",                                roles(OPERATOR, ADMIN)),
    Rule(PUT,   "/api/v1/entitlements/programs/**",                       DISTRICT),
    # The hotline's call log, callbacks and handover (booking/calls): the call center's own work.
    Rule(ALL,   "/api/v1/residents/{resident_id}/calls",                  roles(OPERATOR, ADMIN)),
    # Urgent safety calls (booking/urgent): opened from the card, escalated, worked under /api/v1/hotline.
    Rule(ALL,   "/api/v1/residents/{resident_id}/urgent-calls",           roles(OPERATOR, ADMIN)),
    Rule(ALL,   "/api/v1/hotline/**",                                     roles(OPERATOR, ADMIN)),
    Rule(READ,  "/api/v1/availability/**",                                PUBLIC, Scope.bookings_read),
    Rule(WRITE, "/api/v1/availability/**",                                roles(OPERATOR, PROVIDER_ADMIN, ADMIN)),
    Rule(READ,  "/api/v1/bookings/**",                                    BOOKING_READERS, Scope.bookings_read),
    Rule(WRITE, "/api/v1/bookings/**",                                    BOOKERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/confirm",                  DELIVERERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/reject",                   DELIVERERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/start",                    DELIVERERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/complete",                 DELIVERERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/no-show",                  DELIVERERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/evidence-photos",          DELIVERERS, Scope.bookings_write),
    Rule(POST,  "/api/v1/bookings/{booking_id}/assign",                   ASSIGNERS, Scope.bookings_write),
    # The address and a number to call: the assigned staff member's alone (the service checks who and when).
    Rule(READ,  "/api/v1/bookings/{booking_id}/visit-details",            roles(PROVIDER_STAFF)),
    # visits the provider never came to (no check-in by the end of the slot): the operators' alerts
    Rule(READ,  "/api/v1/bookings/provider-missed",                       roles(OPERATOR, OFFICIAL, ADMIN)),
    Rule(POST,  "/api/v1/bookings/{booking_id}/provider-missed/close",    roles(OPERATOR, OFFICIAL, ADMIN)),
    # Residents whose funded booking lost its contract: the call center rebooks them, officials follow it.
    Rule(READ,  "/api/v1/bookings/replacements",                          roles(OPERATOR, OFFICIAL, ADMIN)),
    Rule(POST,  "/api/v1/bookings/replacements/{replacement_id}/handle",  roles(OPERATOR, ADMIN)),
    # A funded programme's quota line, with who waits: the call center and the district (booking checks too).
    Rule(READ,  "/api/v1/bookings/waitlist/quota",                        roles(OPERATOR, OFFICIAL, ADMIN)),
    # A resident's own messages and preferences (booking checks the owner); the fake SMS outbox is the admins'.
    Rule(ALL,   "/api/v1/notifications/**",                               roles(RESIDENT)),
    Rule(READ,  "/api/v1/notifications/sms-outbox",                       roles(ADMIN)),

    # ---- procurement: funds, the need pool, calls for proposals, reviews, notices, contracts, sanctions
    Rule(WRITE, "/api/v1/funds/**",                                       DISTRICT),
    Rule(READ,  "/api/v1/funds/**",                                       AUDITED),
    Rule(WRITE, "/api/v1/need-pool/**",                                   DISTRICT),
    Rule(POST,  "/api/v1/need-pool",                                      roles(OFFICIAL, OPERATOR, ADMIN)),
    Rule(READ,  "/api/v1/need-pool/**",                                   roles(OFFICIAL, OPERATOR, ADMIN, AUDITOR)),
    Rule(READ,  "/api/v1/calls/**",                                       AUDITED),
    Rule(WRITE, "/api/v1/calls/**",                                       DISTRICT),
    Rule(READ,  "/api/v1/calls",                                          PUBLIC),
    Rule(READ,  "/api/v1/calls/{call_id}",                                PUBLIC),
    Rule(READ,  "/api/v1/calls/{call_id}/documents",                      PUBLIC),  # with a published call
    Rule(POST,  "/api/v1/calls/{call_id}/applications",                   roles(PROVIDER_ADMIN)),  # as a provider
    Rule(READ,  "/api/v1/calls/{call_id}/applications/**",                MANAGERS | {REVIEWER, AUDITOR}),
    Rule(READ,  "/api/v1/calls/{call_id}/applications/{application_id}/past-performance", AUDITED | {REVIEWER}),
    Rule(POST,  "/api/v1/calls/{call_id}/applications/{application_id}/withdraw", roles(PROVIDER_ADMIN)),
    Rule(POST,  "/api/v1/calls/{call_id}/applications/{application_id}/attachments", roles(PROVIDER_ADMIN)),
    Rule(POST,  "/api/v1/calls/{call_id}/applications/{application_id}/declaration", roles(REVIEWER)),
    Rule(ALL,   "/api/v1/calls/{call_id}/applications/{application_id}/my-scores", roles(REVIEWER)),
    Rule(READ,  "/api/v1/calls/{call_id}/applications/{application_id}/scores", AUDITED),
    Rule(READ,  "/api/v1/review-assignments/**",                          roles(REVIEWER)),
    Rule(READ,  "/api/v1/notices/**",                                     PUBLIC),
    Rule(WRITE, "/api/v1/notices/**",                                     DISTRICT),
    Rule(POST,  "/api/v1/notices/{notice_id}/objections",                 PUBLIC),  # anyone may object, by name or not
    Rule(READ,  "/api/v1/contracts/**",                                   CONTRACT_VIEWERS),
    Rule(WRITE, "/api/v1/contracts/**",                                   roles(OFFICIAL, PROVIDER_ADMIN, ADMIN)),
    Rule(READ,  "/api/v1/contracts",                                      AUDITED, Scope.contracts_read),  # a key: own
    # A provider's system reads its own contracts and what was delivered under them (the service checks whose).
    Rule(READ,  "/api/v1/contracts/{contract_id}",                        CONTRACT_VIEWERS, Scope.contracts_read),
    Rule(READ,  "/api/v1/contracts/{contract_id}/history",                CONTRACT_VIEWERS, Scope.contracts_read),
    Rule(READ,  "/api/v1/contracts/{contract_id}/versions",               CONTRACT_VIEWERS, Scope.contracts_read),
    Rule(READ,  "/api/v1/contracts/{contract_id}/deliverables",           CONTRACT_VIEWERS, Scope.deliverables_read),
    Rule(READ,  "/api/v1/contracts/{contract_id}/acceptance",             PUBLIC),  # the result is public (masked)
    Rule(POST,  "/api/v1/contracts",                                      DISTRICT),  # proposes a direct award
    Rule(POST,  "/api/v1/contracts/{contract_id}/direct-award/approve",   DISTRICT),  # a second official
    Rule(POST,  "/api/v1/contracts/{contract_id}/direct-award/reject",    DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/sign",                   MANAGERS),  # both parties sign
    Rule(POST,  "/api/v1/contracts/{contract_id}/terminate",              DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/supervision",            DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/supervision/{record_id}/reports", DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/deliverables/{deliverable_id}/accept", DISTRICT),  # suspect ones
    Rule(POST,  "/api/v1/contracts/{contract_id}/deliverables/{deliverable_id}/reject", DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/acceptance",             DISTRICT),
    Rule(READ,  "/api/v1/contracts/{contract_id}/acceptance/{acceptance_id}/reports", PUBLIC),  # published with it
    Rule(POST,  "/api/v1/contracts/{contract_id}/acceptance/{acceptance_id}/reports", DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/disbursements",          DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/evaluations",            DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/evaluations/{stage}/finalize", DISTRICT),
    Rule(POST,  "/api/v1/contracts/{contract_id}/evaluations/{stage}/scores", CONTRACT_READERS),
    Rule(POST,  "/api/v1/contracts/{contract_id}/evaluators",             DISTRICT),  # assigns an evaluator
    Rule(POST,  "/api/v1/contracts/{contract_id}/evaluators/declaration", roles(EVALUATOR)),  # the assigned one
    Rule(POST,  "/api/v1/contracts/{contract_id}/callbacks",              roles(OPERATOR, OFFICIAL, ADMIN)),
    Rule(POST,  "/api/v1/contracts/{contract_id}/callbacks/{callback_id}/result", roles(OPERATOR, OFFICIAL, ADMIN)),
    Rule(READ,  "/api/v1/contracts/{contract_id}/callbacks",              AUDITED | {OPERATOR, EVALUATOR}),
    Rule(POST,  "/api/v1/contracts/{contract_id}/progress-reports",       roles(PROVIDER_ADMIN, ADMIN)),
    Rule(WRITE, "/api/v1/contracts/{contract_id}/amendments/**",          MANAGERS),  # either party, not evaluators
    Rule(WRITE, "/api/v1/contracts/{contract_id}/terminations/**",        MANAGERS),
    Rule(WRITE, "/api/v1/sanctions/**",                                   DISTRICT),
    Rule(READ,  "/api/v1/sanctions/**",                                   AUDITED),
    Rule(WRITE, "/api/v1/audit-trail/**",                                 DISTRICT),
    Rule(READ,  "/api/v1/audit-trail/**",                                 AUDITED),

    # ---- feedback: ratings, scores, complaints, needs, reports, Open311
    Rule(READ,  "/api/v1/rating-invitations/**",                          roles(OPERATOR, RESIDENT, ADMIN)),
    Rule(READ,  "/api/v1/ratings",                                        PUBLIC),  # published ratings, no names
    Rule(READ,  "/api/v1/ratings/**",                                     roles(RESIDENT, OPERATOR, OFFICIAL, ADMIN)),
    Rule(WRITE, "/api/v1/ratings/**",                                     roles(RESIDENT, OPERATOR, ADMIN)),
    Rule(READ,  "/api/v1/scores/**",                                      PUBLIC),
    Rule(READ,  "/api/v1/scores/report",                                  roles(OFFICIAL, EVALUATOR, ADMIN)),
    Rule(READ,  "/api/v1/complaints/**",                                  FILERS | PROVIDER),
    Rule(READ,  "/api/v1/complaints/overdue",                             DISTRICT),
    Rule(READ,  "/api/v1/complaints/report",                              roles(OFFICIAL, EVALUATOR, ADMIN)),
    Rule(WRITE, "/api/v1/complaints/**",                                  FILERS | PROVIDER),
    Rule(POST,  "/api/v1/complaints",                                     FILERS),
    Rule(POST,  "/api/v1/complaints/{complaint_id}/acknowledge",          DISTRICT | PROVIDER),  # the assigned provider
    Rule(POST,  "/api/v1/complaints/{complaint_id}/investigate",          DISTRICT | PROVIDER),
    Rule(POST,  "/api/v1/complaints/{complaint_id}/resolve",              DISTRICT | PROVIDER),
    Rule(POST,  "/api/v1/complaints/{complaint_id}/close",                FILERS),
    Rule(POST,  "/api/v1/complaints/{complaint_id}/reopen",               roles(RESIDENT, OPERATOR)),
    Rule(POST,  "/api/v1/complaints/{complaint_id}/assign",               DISTRICT),
    Rule(ALL,   "/api/v1/needs/**",                                       FILERS),
    Rule(READ,  "/api/v1/needs/groups",                                   roles(OFFICIAL, OPERATOR, ADMIN)),
    Rule(READ,  "/api/v1/needs/report",                                   roles(OFFICIAL, EVALUATOR, ADMIN)),
    # An Open311 application's key (GeoReport's api_key) files requests; reads are public.
    Rule(READ,  "/open311/**",                                            PUBLIC, Scope.open311_requests),
    Rule(WRITE, "/open311/**",                                            FILERS, Scope.open311_requests),

    # ---- documents' content: the link's signature (or a public document's plain URL) is what admits a caller;
    # the services give the links only to whom may see the record (service_kit.documents).
    Rule(READ,  "/api/v1/documents/**",                                   PUBLIC),
    Rule(WRITE, "/api/v1/documents/**",                                   roles(ADMIN)),  # nothing writes here

    # ---- operations: dead letters of each service
    Rule(ALL,   "/api/v1/ops/**",                                         roles(ADMIN)),
)
# fmt: on

_BY_SPECIFICITY = sorted(POLICY, key=lambda rule: rule.specificity, reverse=True)


@lru_cache(maxsize=8192)  # matching every row costs 30–50 µs; a proxied request's path has usually been seen
def rule_for(method: str, path: str) -> Rule | None:
    """The row that decides ``method path`` (the most specific matching one), or None when none does."""
    for rule in _BY_SPECIFICITY:
        if method in rule.methods and matches(rule.path, path):
            return rule
    return None


def _check_key(rule: Rule, scopes: frozenset[str]) -> None:
    if Scope.open311_requests in scopes and rule.key != Scope.open311_requests:
        raise Forbidden(
            "An Open311 application's key files service requests under /open311 only.", code="route_not_for_api_keys"
        )
    if rule.key == NO_KEY:
        raise Forbidden("API keys cannot call this route.", code="route_not_for_api_keys")
    if rule.key != ANY_KEY and rule.key not in scopes:
        raise Forbidden(f"This API key lacks the scope {rule.key}.", code="scope_missing")


def authorize(method: str, path: str, principal: Principal | None, *, key_scopes: frozenset[str] | None = None) -> Rule:
    """Raise the gateway's 404/401/403 unless the caller may call ``method path``; the deciding row otherwise.

    ``principal`` is the verified bearer token's (None: anonymous); ``key_scopes`` the scopes of the API key the
    caller presented (None: no API key)."""
    rule = rule_for(method, path)
    if rule is None:
        raise NotFound("Linli has no endpoint at this path.", code="no_policy")
    if key_scopes is not None:
        _check_key(rule, key_scopes)
        return rule
    if rule.who == PUBLIC:
        return rule
    if principal is None:
        raise Unauthorized("Sign in: this endpoint needs a bearer token.")
    if principal.roles & MACHINE_ROLES:  # a token the gateway made from an API key
        _check_key(rule, principal.scopes)
        return rule
    if not rule.admits(principal):
        raise Forbidden("Your role may not call this endpoint.", code="role_forbidden")
    return rule
