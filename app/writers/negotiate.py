"""Content negotiation: an Accept header (or a `format=` convenience value) -> one media type we write.

Rules (docs/api.md repeats them for users):
- `*/*`, an absent Accept, and version-less SDMX types take the API version's default (`default`).
- SDMX media types match on essence and `version` (`3.0` = `3.0.0`); q-values order the choices,
  q=0 refuses a type; among equal q the first listed wins.
- `application/xml` / `text/xml` mean the default XML type; `application/json` the JSON one.
- Nothing acceptable raises NotAcceptable naming what we can write.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import NotAcceptable
from app.formats.media import MediaType


@dataclass(frozen=True)
class Offer:
    """What an endpoint can write: every type, the default, and the default per generic type."""

    types: Sequence[MediaType]
    default: MediaType
    xml: MediaType
    json: MediaType
    format_aliases: dict[str, MediaType]


def _norm_version(version: str | None) -> str | None:
    if version is None:
        return None
    parts = version.strip('"').split(".")
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


def _parse(header: str) -> list[tuple[float, int, str, str | None]]:
    ranges = []
    for index, part in enumerate(p for p in header.split(",") if p.strip()):
        essence, *params = (x.strip() for x in part.split(";"))
        q, version = 1.0, None
        for param in params:
            name, _, value = param.partition("=")
            name = name.strip().lower()
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif name == "version":
                version = value.strip()
        ranges.append((q, index, essence.lower(), version))
    return sorted(ranges, key=lambda r: (-r[0], r[1]))


def _match(offer: Offer, essence: str, version: str | None) -> MediaType | None:
    if essence in ("*/*", "application/*"):
        return offer.default
    if essence in ("application/xml", "text/xml", "text/*"):
        return offer.xml
    if essence == "application/json":
        return offer.json
    candidates = [t for t in offer.types if t.essence == essence]
    if not candidates:
        return None
    if version is None:
        return offer.default if offer.default in candidates else candidates[0]
    wanted = _norm_version(version)
    return next((t for t in candidates if _norm_version(t.version) == wanted), None)


def negotiate(offer: Offer, accept: str | None, format_param: str | None = None) -> MediaType:
    """The media type to write, or NotAcceptable."""
    if format_param:
        chosen = offer.format_aliases.get(format_param.lower())
        if chosen is None:
            raise NotAcceptable(
                f"Unknown format {format_param!r}; expected one of "
                + ", ".join(sorted(offer.format_aliases))
            )
        return chosen
    if not accept or not accept.strip():
        return offer.default
    for q, _, essence, version in _parse(accept):
        if q <= 0:
            continue
        chosen = _match(offer, essence, version)
        if chosen is not None:
            return chosen
    raise NotAcceptable(
        f"Cannot produce any of the requested media types ({accept}); available: "
        + ", ".join(t.value for t in offer.types)
    )


def content_type(media_type: MediaType) -> str:
    """The Content-Type header for a media type we write."""
    version = media_type.version
    suffix = f"; version={version}" if version else ""
    return f"{media_type.essence}{suffix}; charset=utf-8"


def pick_language(accept_language: str | None, available: Sequence[str] = ("en", "ru")) -> str:
    """The best of `available` for an Accept-Language header; English when nothing matches."""
    if not accept_language:
        return available[0]
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept_language.split(",")):
        tag, *params = (x.strip() for x in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        primary = tag.lower().split("-")[0]
        if q > 0 and primary in available and (best is None or (q, -index) > best[:2]):
            best = (q, -index, primary)
    return best[2] if best else available[0]
