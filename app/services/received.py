"""A message as DSM receives it: spooled to a temporary file while it arrives (hashed, its size
capped), read back expanded (gzip, with a ceiling on the expanded size), and kept: compressed
with gzip on a second thread while the import reads it (zlib works without the GIL), so keeping
the original costs the import almost nothing of its own."""

import gzip
import hashlib
import io
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from app.errors import TooLarge

HEAD_BYTES = 64 * 1024  # what readers are chosen by
PIECE = 1024 * 1024  # bytes read, compressed and stored at a time
SPOOL_IN_MEMORY = 4 * 1024 * 1024  # a body up to this size stays in memory


@dataclass
class Received:
    """A request body spooled to a temporary file: its digest, size and whether it is gzip."""

    file: BinaryIO
    sha256: str
    size: int
    gzipped: bool

    def close(self) -> None:
        self.file.close()


class Spool:
    """Collects a body piece by piece (sync or async callers), hashing it; 413 beyond `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - Received.close
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            self.file.close()
            raise TooLarge(f"The message is larger than the limit of {self.limit} bytes")
        self.digest.update(piece)
        self.file.write(piece)

    def close(self) -> None:
        """Delete what was collected (a body that will not be read)."""
        self.file.close()

    def finish(self, gzipped: bool = False) -> Received:
        self.file.seek(0)
        magic = self.file.read(2)
        self.file.seek(0)
        return Received(
            self.file, self.digest.hexdigest(), self.size, gzipped or magic == b"\x1f\x8b"
        )


def receive(pieces: Iterator[bytes], limit: int, gzipped: bool = False) -> Received:
    """Spool a body from an iterator of byte pieces."""
    spool = Spool(limit)
    for piece in pieces:
        spool.write(piece)
    return spool.finish(gzipped)


class _Capped(io.RawIOBase):
    """Reads a decompressed stream, refusing to expand beyond `limit` bytes (gzip bombs), and
    telling `progress` how many bytes of the received file have been consumed."""

    def __init__(
        self, raw: BinaryIO, limit: int, progress: Callable[[int], None] | None, received: BinaryIO
    ) -> None:
        self.raw, self.limit, self.count = raw, limit, 0
        self.progress, self.received = progress, received

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.raw.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge(f"The message expands to more than the limit of {self.limit} bytes")
        buffer[: len(data)] = data
        if self.progress is not None:
            self.progress(self.received.tell())
        return len(data)


def open_body(
    received: Received, expanded_limit: int, progress: Callable[[int], None] | None = None
) -> io.BufferedReader:
    received.file.seek(0)
    raw: BinaryIO = (
        gzip.GzipFile(fileobj=received.file, mode="rb") if received.gzipped else received.file
    )
    capped = _Capped(raw, expanded_limit, progress, received.file)
    return io.BufferedReader(capped, buffer_size=HEAD_BYTES)


def receive_file(path: str) -> Received:
    """A file on disk as a received message (hashed in one pass, read in place)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    file = open(path, "rb")  # noqa: SIM115 - closed by Received.close
    gzipped = file.read(2) == b"\x1f\x8b"
    file.seek(0)
    return Received(file, digest.hexdigest(), size, gzipped)


class Kept:
    """The received message gzip-compressed for keeping (`file`, read from the start once
    `finish` returns). A gzip body is kept as it came. Compression runs on a thread from the
    moment this is made, reading the spooled file by position (os.pread) so that the import can
    read it at the same time; a body small enough to stay in memory is compressed by `finish`."""

    def __init__(self, received: Received, piece: int = PIECE) -> None:
        self.received, self.piece = received, piece
        self.file: BinaryIO = received.file
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if received.gzipped:
            return
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - close()
        if received.size > SPOOL_IN_MEMORY:  # spooled to disk: it has a file descriptor
            self._thread = threading.Thread(
                target=self._run, args=(received.file.fileno(),), daemon=True
            )
            self._thread.start()

    def _run(self, fd: int) -> None:
        try:
            self._compress(lambda offset: os.pread(fd, self.piece, offset))
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self._error = exc

    def _compress(self, read: Callable[[int], bytes]) -> None:
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
        offset = 0
        while not self._stop.is_set() and (block := read(offset)):
            offset += len(block)
            self.file.write(packer.compress(block))
        self.file.write(packer.flush())

    def finish(self) -> BinaryIO:
        """The compressed message, from its start (waits for the thread)."""
        if self.received.gzipped:
            self.received.file.seek(0)
            return self.received.file
        if self._thread is None:
            source = self.received.file

            def read(offset: int) -> bytes:
                source.seek(offset)
                return source.read(self.piece)

            self._compress(read)
        else:
            self._thread.join()
            if self._error is not None:
                raise self._error
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        """Stop compressing (the message will not be kept) and free the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.file is not self.received.file:
            self.file.close()
