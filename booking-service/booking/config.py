from typing import ClassVar

from pydantic import Field

from service_kit.notify.settings import SmsSettings
from service_kit.settings import ServiceSettings


class Settings(ServiceSettings, SmsSettings):
    # Two settings bases: pydantic-settings does not merge their ``LINLI_`` prefix, so it is said again here
    # (without it no ``LINLI_*`` variable, the JWKS URL included, reaches the service).
    model_config = ServiceSettings.model_config

    service_name: ClassVar[str] = "booking"

    # Booking rules every offering follows unless its provider or an operator sets its own
    # (``/api/v1/availability/{offering_id}/rules``).
    # A slot can be booked until this many minutes before it starts.
    booking_min_lead_minutes: int = 60
    # And at most this many days ahead.
    booking_horizon_days: int = 30
    # A resident cancels or reschedules by themself until this many minutes before the slot; later only an
    # operator or the provider may.
    booking_cancellation_window_minutes: int = 120
    # A requested booking the provider has not confirmed within this many minutes (and in any case by the
    # start of its slot) expires and gives its place back.
    booking_confirm_within_minutes: int = 24 * 60
    # How often the expiry sweep looks for unconfirmed bookings, and how many it expires per transaction.
    expiry_sweep_seconds: float = 60.0
    expiry_sweep_batch: int = 100
    # A check-in of a door-to-door visit farther than this from the resident's address is suspect (not refused).
    checkin_far_meters: int = 500
    # Delivery evidence (what a contract pays on): a visit may start (check in) at the earliest this many minutes
    # before its slot, and be completed (check out) only once this share of the slot's duration has passed since
    # the check-in; both are refused otherwise. A check-in more than ``visit_late_minutes`` after the slot began
    # is accepted but suspect.
    visit_start_margin_minutes: int = 30
    visit_min_duration_share: float = Field(default=0.5, ge=0, le=1)
    visit_late_minutes: int = 30
    # The staff member assigned to a door-to-door visit sees the resident's address, access notes and a number to
    # call from this many minutes before the slot until its end (every look recorded in the resident's log).
    visit_details_lead_minutes: int = Field(default=120, ge=0)
    # Eligibility evidence expiring within this many days (or expired) gets an operator's re-check task; the sweep
    # looks every ``eligibility_recheck_sweep_seconds`` and opens at most ``eligibility_recheck_batch`` per look.
    eligibility_recheck_lead_days: int = Field(default=30, ge=0)
    eligibility_recheck_sweep_seconds: float = 3600.0
    eligibility_recheck_batch: int = 500
    # A confirmed visit with no check-in by the end of its slot alerts operators (the provider did not come):
    # the job looks every ``provider_missed_sweep_seconds`` and marks at most ``provider_missed_sweep_batch``.
    provider_missed_sweep_seconds: float = 60.0
    provider_missed_sweep_batch: int = 100
    # Reminders: a confirmed booking's resident gets one SMS this many hours before the slot; the reminder
    # job looks every ``reminder_sweep_seconds`` and sends at most ``reminder_sweep_batch`` per look.
    reminder_lead_hours: float = 24.0
    reminder_sweep_seconds: float = 60.0
    reminder_sweep_batch: int = 100
    # When a contract's funding ends, operators are shown at most this many equivalent funded services per
    # resident, in the resident's 15-minute circle: a center within this walk (15 minutes at an older
    # resident's 80 m a minute, as the registry's circle), or a door-to-door service whose area holds the home.
    circle_walk_m: int = 1200
    replacement_alternatives: int = 5
    # How often the sweep ends funded programs past their contract's last day, and how many per look.
    funding_end_sweep_seconds: float = 300.0
    funding_end_sweep_batch: int = 100
    # Messages to residents (booking/notifications). The SMS sender and its provider: ``SmsSettings``. The delivery
    # worker looks every ``notification_sweep_seconds`` for at most ``notification_sweep_batch`` due SMS; a failed
    # send is tried again after ``sms_retry_base_seconds``, doubling, ``sms_max_attempts`` times in all. One phone
    # gets at most ``sms_rate_limit_count`` SMS within ``sms_rate_limit_minutes`` (beyond: the inbox only).
    notification_sweep_seconds: float = Field(1.0, gt=0)
    notification_sweep_batch: int = Field(100, ge=1)
    sms_retry_base_seconds: float = Field(60.0, gt=0)
    sms_max_attempts: int = Field(5, ge=1, le=20)
    sms_lease_seconds: float = Field(60.0, gt=0)
    sms_rate_limit_count: int = Field(5, ge=1)
    sms_rate_limit_minutes: int = Field(60, ge=1)
    # No SMS from 21:00 to 08:00 (Beijing) but sign-in codes and same-day changes: a deferred one goes at 08:00.
    # Off only for a test stack whose journeys run at any hour (the rule is tested on the service's clock).
    sms_quiet_hours: bool = True
    # Recurring series (booking/series): a series spans at most ``series_max_days`` from its first date and at most
    # ``series_max_occurrences`` dates; dates inside the booking horizon are booked at once, the rest by the
    # extension job every ``series_extend_sweep_seconds`` as the horizon moves (``series_extend_batch`` per look).
    series_max_days: int = Field(366, ge=1)
    series_max_occurrences: int = Field(260, ge=1)
    series_extend_sweep_seconds: float = Field(3600.0, gt=0)
    series_extend_batch: int = Field(100, ge=1)
    # Waitlists (booking/waitlist): a place freed in a full slot is held for the first in line this many minutes
    # (never past the slot's start); the sweep every ``waitlist_sweep_seconds`` passes unanswered offers on and
    # offers places a capacity increase made.
    waitlist_offer_hold_minutes: int = Field(120, ge=1)
    waitlist_sweep_seconds: float = Field(60.0, gt=0)
    waitlist_sweep_batch: int = Field(100, ge=1)
