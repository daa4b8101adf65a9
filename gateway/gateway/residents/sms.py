"""Sign-in codes go out at once through the service kit's SMS sender (``service_kit.notify``): the real provider
adapter where ``LINLI_SMS_SENDER=tencent``, the fake one in dev and tests, whose messages an admin reads at
``GET /api/v1/auth/otp/messages`` outside production."""

from service_kit.notify.sms import FakeSmsSender, Sms, SmsFailed, SmsSender

__all__ = ["FakeSmsSender", "Sms", "SmsFailed", "SmsSender"]
