"""Every snippet of the adversarial catalogue (`hostile_snippets.py`) is contained, and the sandbox goes on."""

import shutil
import sys

import pytest

from hostile_snippets import CATALOGUE, Host, make_sandbox, run_one

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="kernel confinement is Linux-only")]


@pytest.fixture(scope="module")
def box():
    sandbox = make_sandbox()
    yield sandbox
    sandbox.close()


@pytest.fixture
def host():
    h = Host()
    yield h
    shutil.rmtree(h.dir, ignore_errors=True)


@pytest.mark.parametrize("hostile", CATALOGUE, ids=[h.threat for h in CATALOGUE])
def test_hostile_code_is_contained(box, host, hostile):
    contained, _, said = run_one(box, hostile, host)
    assert contained, f"{hostile.threat}: the code was told {said!r}; host unchanged: {host.unchanged()}"
