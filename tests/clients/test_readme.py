"""The README's examples run as written against a live server (only the address differs)."""

import re
import shutil
import subprocess

import pytest

from app.settings import BUNDLED

README = (BUNDLED / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
CURL_GETS = [
    line.strip()
    for block in re.findall(r"```sh\n(.*?)```", README, re.S)
    for line in block.replace("\\\n", " ").splitlines()
    if line.strip().startswith(("curl '", "curl -H", "curl -g"))
]


# something each python block prints
EXPECTED_OUTPUT = ["Казахстан", "DF_FOREIGN_POP", "CITIZENSHIP", "COUNTERPART_AREA"]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """A live server on a SQLite database holding the demo data (the README's data examples
    query it)."""
    import threading
    import time

    import uvicorn

    from app.main import create_app
    from app.services import demo
    from app.settings import Settings

    folder = tmp_path_factory.mktemp("readme")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'dsm.db'}",
        secret_key="x",
        auto_setup=True,
        _env_file=None,
    )
    app = create_app(settings)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    structures = app.state.structures
    for _ in demo.load(structures.engine, structures.flows(), expanded_limit=1 << 30):
        pass
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_every_python_example_is_checked():
    assert len(PYTHON_BLOCKS) == len(EXPECTED_OUTPUT)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_examples(demo_server, index, capsys):
    code = PYTHON_BLOCKS[index].replace("http://127.0.0.1:8000", demo_server)
    exec(compile(code, f"README python block {index}", "exec"), {})  # noqa: S102 - our own README
    assert EXPECTED_OUTPUT[index] in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("index", range(len(CURL_GETS)))
def test_curl_examples(demo_server, index):
    command = CURL_GETS[index].replace("http://127.0.0.1:8000", demo_server)
    result = subprocess.run(
        command + " --fail --silent --show-error", shell=True, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert any(mark in result.stdout for mark in (b"<mes:Structure", b"STRUCTURE", b'"data"'))
