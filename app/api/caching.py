"""HTTP caching: conditional requests against an ETag and a Last-Modified time."""

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def not_modified(request: Request, tag: str, stamp: datetime) -> bool:
    """True when the request's If-None-Match (or, without it, If-Modified-Since) says the client
    has this version. If-Modified-Since may be an HTTP-date or RFC 3339; an unreadable one is
    ignored, as HTTP says."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip() for t in if_none_match.split(",")}
        return "*" in tags or tag in tags or tag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return stamp.replace(microsecond=0) <= when
