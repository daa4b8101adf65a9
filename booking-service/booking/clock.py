"""The booking's sense of "now" for rules judged by a request (when a visit may start or end): the kit's, which
tests move through ``app.state.clock``; the periodic jobs take a ``now=`` argument instead."""

from service_kit.clock import Now, current_time

__all__ = ["Now", "current_time"]
