"""The data readers, by registration: which reader handles a media type or, failing that, the
first bytes of a body. Built-in readers register themselves when this module is imported."""

from app.model.data import MessageError
from app.readers.base import Reader

READERS: list[Reader] = []


def register(reader: Reader) -> Reader:
    READERS.append(reader)
    return reader


def _essence_and_version(media_type: str) -> tuple[str, str | None]:
    essence, *params = (p.strip() for p in media_type.split(";"))
    version = next(
        (p.split("=", 1)[1].strip('"') for p in params if p.startswith("version=")), None
    )
    return essence.lower(), version


def _same_version(a: str | None, b: str | None) -> bool:
    def norm(v: str | None) -> str | None:
        if v is None:
            return None
        parts = v.split(".")
        while len(parts) > 2 and parts[-1] == "0":
            parts.pop()
        return ".".join(parts)

    return norm(a) == norm(b)


def find(media_type: str | None, head: bytes) -> Reader:
    """The reader for a body: by its SDMX media type when that names one, else by sniffing.

    Raises MessageError naming every reader tried when none fits."""
    if media_type:
        essence, version = _essence_and_version(media_type)
        for reader in READERS:
            for known in reader.media_types:
                k_essence, k_version = _essence_and_version(known)
                same = essence == k_essence and (
                    version is None or _same_version(version, k_version)
                )
                if same and (version is not None or reader.sniff(head)):
                    return reader
    for reader in READERS:
        if reader.sniff(head):
            return reader
    tried = ", ".join(r.name for r in READERS)
    raise MessageError(
        f"Unrecognised data message (media type {media_type or 'none'}); tried: {tried}"
    )


# Built-in readers register themselves on import (after `register` exists).
import app.readers.sdmx_csv  # noqa: E402, F401
import app.readers.sdmx_json  # noqa: E402, F401
import app.readers.sdmx_ml  # noqa: E402, F401
