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
    if line.strip().startswith("curl '") or line.strip().startswith("curl -H")
]


EXPECTED_OUTPUT = ["Казахстан", "DF_FOREIGN_POP"]  # something each python block prints


def test_every_python_example_is_checked():
    assert len(PYTHON_BLOCKS) == len(EXPECTED_OUTPUT)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_examples(live_server, index, capsys):
    code = PYTHON_BLOCKS[index].replace("http://127.0.0.1:8000", live_server)
    exec(compile(code, f"README python block {index}", "exec"), {})  # noqa: S102 - our own README
    assert EXPECTED_OUTPUT[index] in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("index", range(len(CURL_GETS)))
def test_curl_examples(live_server, index):
    command = CURL_GETS[index].replace("http://127.0.0.1:8000", live_server)
    result = subprocess.run(
        command + " --fail --silent --show-error", shell=True, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert b"<mes:Structure" in result.stdout or b'"data"' in result.stdout
