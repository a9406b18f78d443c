"""Structure writers: one module per wire format, registered by media type.

``write(media_type, response)`` returns the whole message as bytes: structure messages are small
(a few artefacts, codelists of at most some thousand codes), so each writer builds its document in
memory with lxml or ``json`` rather than streaming.
"""

from collections.abc import Callable

from app.formats.media import MediaType
from app.model.structure import StructureResponse

Writer = Callable[[StructureResponse], bytes]

WRITERS: dict[MediaType, Writer] = {}


def register(media_type: MediaType) -> Callable[[Writer], Writer]:
    """Decorator: make ``func`` the structure writer for ``media_type``."""

    def decorate(func: Writer) -> Writer:
        WRITERS[media_type] = func
        return func

    return decorate


def write(media_type: MediaType, response: StructureResponse) -> bytes:
    """The structure message for ``response`` in ``media_type``; KeyError names the known types."""
    try:
        writer = WRITERS[media_type]
    except KeyError:
        known = ", ".join(sorted(WRITERS))
        raise KeyError(f"no structure writer for {media_type}; expected one of {known}") from None
    return writer(response)


# Built-in writers register themselves on import (after `register` exists).
from app.writers.structure import (  # noqa: E402, F401
    sdmx_json10,
    sdmx_json20,
    sdmx_ml21,
    sdmx_ml30,
)
