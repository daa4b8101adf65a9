"""Errors only an edge has: a service that is slow, unreachable, or answers badly."""

from service_kit.errors import DependencyUnavailable, LinliError

# Seconds a client should wait before retrying when a service cannot be reached.
RETRY_AFTER_SECONDS = 2


class UpstreamUnavailable(DependencyUnavailable):
    code, title = "upstream_unavailable", "The service is unavailable, try again"


class UpstreamTimeout(LinliError):
    status, code, title = 504, "upstream_timeout", "The service did not answer in time"


class BadGateway(LinliError):
    status, code, title = 502, "bad_gateway", "The service answered badly"


class UpstreamBusy(DependencyUnavailable):
    code, title = "upstream_busy", "The service is busy, try again"


class Unforwardable(LinliError):
    status, code, title = 400, "unforwardable_request", "The request cannot be forwarded"
