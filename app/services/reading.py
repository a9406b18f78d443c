"""A big SDMX-ML message is read in a process of its own while this one checks and stores it.

Parsing XML and storing rows both need the interpreter, and a thread would take turns with the
store for the GIL; a second process reads on the second core. Reading apart is used for SDMX-ML
bodies of at least APART_FROM bytes that sit in a file (every upload that large is spooled to
disk); anything else is read in this process, as the same reader would read it there.

The reading process opens the received file itself (through /proc: an upload's spool file has no
name), applies the same gzip and expansion limits (`open_body`), and sends the reader's events in
batches through a pipe, with how far into the file it got (the progress bar). The pipe holds a
few batches at most: the reader waits when the store is behind, so memory stays bounded in both
processes. An error while reading is sent after the events before it and raised here, as the
reader would have raised it. If this side stops early (a rejected message, a client gone), the
reading process is killed. The process is a fresh interpreter that imports only the readers
(about 0.1 s and 24 MB here); forking the server, with its threads and connections, would not
be safe.
"""

import logging
import os
import pickle
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from app.model.data import Event, MessageError
from app.readers.base import Reader
from app.services.received import Received, open_body

log = logging.getLogger("dsm.ingest")

APART_FROM: Final = 8 * 1024 * 1024  # bytes received: a smaller message is read in process
BATCH: Final = 4  # events per message through the pipe (a chunk is 10,000 rows)
_CHILD: Final = "from app.services.reading import main; main()"
_ROOT: Final = str(Path(__file__).resolve().parents[2])  # where `app` is imported from


def apart(reader: Reader, received: Received) -> str | None:
    """The path the reading process opens, when this message is to be read apart."""
    if received.size < APART_FROM or not any("+xml" in m for m in reader.media_types):
        return None
    try:
        path = f"/proc/{os.getpid()}/fd/{received.file.fileno()}"
    except (AttributeError, OSError, ValueError):  # in memory: no file descriptor
        return None
    return path if os.path.exists(path) else None


def events(
    reader: Reader,
    received: Received,
    body: BinaryIO,
    expanded_limit: int,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """The reader's events of the message: read apart when `apart` says so, else from `body`."""
    path = apart(reader, received)
    if path is None:
        yield from reader.read(body)
        return
    read_end, write_end = os.pipe()
    args = [reader.name, path, str(received.size), str(int(received.gzipped))]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
    )
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args, str(expanded_limit), str(write_end)],
            pass_fds=(write_end,),
            stdin=subprocess.DEVNULL,
            env=env,
        )
    finally:
        os.close(write_end)
    pipe = os.fdopen(read_end, "rb")
    try:
        while True:
            try:
                item = pickle.load(pipe)
            except EOFError:
                raise MessageError(
                    f"The message could not be read: the reading process ended ({process.wait()})"
                ) from None
            if isinstance(item, BaseException):
                raise item
            batch, position, peak = item
            if progress is not None:
                progress(position)
            yield from batch
            if peak is not None:
                log.debug("read apart: %s bytes, the reader peaked at %.0f MB", position, peak)
                return
    finally:
        pipe.close()
        if process.poll() is None:
            process.kill()
        process.wait()


def main() -> None:
    """The reading process: `NAME PATH SIZE GZIPPED LIMIT FD` on the command line. Sends the
    events of the file at PATH to FD in pickled batches, then its end (the last batch carries
    this process's peak RSS in MB), or the error that stopped it."""
    from app.readers.registry import READERS

    name, path, size, gzipped, limit, fd = sys.argv[1:7]
    reader = next(r for r in READERS if r.name == name)
    with open(path, "rb") as file, os.fdopen(int(fd), "wb") as out:

        def send(item: object) -> None:
            pickle.dump(item, out, pickle.HIGHEST_PROTOCOL)
            out.flush()

        body = open_body(Received(file, "", int(size), gzipped == "1"), int(limit))
        batch: list[Event] = []
        try:
            for event in reader.read(body):
                batch.append(event)
                if len(batch) >= BATCH:
                    send((batch, file.tell(), None))
                    batch = []
        except Exception as exc:  # sent after the events before it, raised on the other side
            send((batch, file.tell(), None))
            try:
                send(exc)
            except Exception:  # noqa: BLE001 - an error that cannot be pickled: its text
                send(MessageError(f"The message could not be read: {exc}"))
            return
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        send((batch, file.tell(), peak))
