from typing import ClassVar, Literal

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
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
    # A check-in farther than this from the resident's address is flagged (not refused).
    checkin_far_meters: int = 500
    # Reminders: a confirmed booking's resident gets one SMS this many hours before the slot; the reminder
    # job looks every ``reminder_sweep_seconds`` and sends at most ``reminder_sweep_batch`` per look.
    reminder_lead_hours: float = 24.0
    reminder_sweep_seconds: float = 60.0
    reminder_sweep_batch: int = 100
    # Which SMS sender reminders go through: only the fake one exists (it records, sends nothing).
    sms_sender: Literal["fake"] = "fake"
