"""Messages to residents, shared by the gateway (sign-in codes) and booking (the event-driven notifier).

``sms``: what an SMS is, the ``SmsSender`` protocol and the ``FakeSmsSender`` of dev and tests; ``tencent``: the
real adapter (Tencent Cloud SMS, its official SDK); ``templates``: each kind of message as the provider's
registered template (ordered parameters) and our Chinese rendering of it; ``rules``: quiet hours and the
per-phone rate limit; ``settings``: which sender, its credentials and template ids; ``outbox``: the admin view
of what the fake sender recorded (outside production)."""
