"""The gateway's sense of "now" for rules judged by a request (a lockout's end, a phone's codes of the day): the
kit's (``service_kit.clock``), which tests move through ``app.state.clock`` instead of waiting."""

from service_kit.clock import Now, current_time

__all__ = ["Now", "current_time"]
