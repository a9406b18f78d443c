"""The received message: kept gzip-compressed (on a thread for bodies spooled to disk), and
exactly what arrived once decompressed."""

import gzip
import os

import pytest

from app.services.received import SPOOL_IN_MEMORY, Kept, receive


def _body(size: int) -> bytes:
    """Incompressible enough to be realistic: a counter rendered as CSV-ish lines."""
    lines, total, i = [], 0, 0
    while total < size:
        line = f"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,{i % 997},{i},{os.urandom(4).hex()}\n"
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines).encode()[:size]


@pytest.mark.parametrize("size", [1000, SPOOL_IN_MEMORY + 12345])
def test_kept_message_decompresses_to_what_arrived(size):
    body = _body(size)
    received = receive(iter([body[i : i + 65536] for i in range(0, len(body), 65536)]), 1 << 30)
    kept = Kept(received, piece=100_000)
    assert (kept._thread is not None) == (size > SPOOL_IN_MEMORY)
    received.file.seek(0)
    assert received.file.read() == body  # the import reads the file meanwhile
    assert gzip.decompress(kept.finish().read()) == body
    kept.close()
    received.close()


def test_a_gzip_body_is_kept_as_it_came():
    body = gzip.compress(_body(50_000))
    received = receive(iter([body]), 1 << 30)
    kept = Kept(received)
    assert kept.finish().read() == body
    kept.close()
    received.close()


def test_closing_stops_the_compression():
    body = _body(SPOOL_IN_MEMORY * 3)
    received = receive(iter([body]), 1 << 30)
    kept = Kept(received, piece=4096)
    kept.close()  # a rejected message: nothing is kept
    assert kept.file.closed
    received.close()
