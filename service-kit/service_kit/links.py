"""Links the public follows (open-data documents, their paging, their OpenAPI): built from the configured
``LINLI_PUBLIC_BASE_URL``, never from the request's ``Host`` or ``X-Forwarded-*`` headers, which the caller
chooses. Behind the gateway every service is reached at the same public address."""

from fastapi import Request


def public_base_url(request: Request) -> str:
    """The configured public address, without a trailing slash."""
    return str(request.app.state.runtime.settings.public_base_url)


def public_url(request: Request, path_and_query: str | None = None) -> str:
    """An absolute public URL: ``path_and_query``, or this request's own path and query."""
    if path_and_query is None:
        query = request.url.query
        path_and_query = request.url.path + (f"?{query}" if query else "")
    return public_base_url(request) + path_and_query
