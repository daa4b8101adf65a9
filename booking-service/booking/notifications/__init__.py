"""Messages to residents, driven by events: every booking, complaint and need change a resident should hear of
becomes one inbox message (always) and one SMS (unless the resident turned that kind off, the phone is over its
rate limit, or it waits for the end of the quiet hours), for the resident and for each helper who copies them.

``consumers`` turns events into messages (exactly once per event through the kit's inbox consumer, and unique
per event + recipient + channel in the tables as well); ``delivery`` is the worker that hands pending SMS to the
sender with retries and backoff; ``endpoints`` is the resident's inbox and preferences. The day-before reminders
(``booking.bookings.reminders``) are messages of this module too."""
