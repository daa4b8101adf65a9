"""The procurement's sense of "now": the kit's (``service_kit.clock``). Deadlines (a call's closing time, a notice's
objection period) are judged against it; tests move it through ``app.state.clock`` instead of sleeping."""

from service_kit.clock import Now, current_time

__all__ = ["Now", "current_time"]
