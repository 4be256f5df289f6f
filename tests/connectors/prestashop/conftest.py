"""Shared fixtures: the published PrestaShop payloads and in-process simulators."""

from pathlib import Path

import pytest

from connectors.http import ClientOptions
from connectors.prestashop.client import PrestaShopClient
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator

# The reference pack sits beside the repository: /work/shared/reference/prestashop.
REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "prestashop"
SAMPLES = REFERENCE / "samples"
BASE = "https://shop.example.com/api"
KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
VERSIONS = ("1.7", "8", "9")


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"reference sample {name} not found under {SAMPLES}")
    return path.read_bytes()


def make_client(base: str = BASE, key: str = KEY, **options) -> PrestaShopClient:
    sleeps: list[float] = []
    client = PrestaShopClient(
        base, key, options=ClientOptions.from_mapping(options), sleep=sleeps.append
    )
    client.sleeps = sleeps
    return client


@pytest.fixture(scope="module", params=VERSIONS)
def sim(request):
    """One simulator per version profile, shared by a module's tests (reads, idempotent
    writes); tests that break state use `fresh_sim`."""
    with PrestaShopSimulator(seed=7, version=request.param) as simulator:
        yield simulator


@pytest.fixture
def fresh_sim():
    with PrestaShopSimulator(seed=3, version="8") as simulator:
        yield simulator


def sim_client(simulator: PrestaShopSimulator, **options) -> PrestaShopClient:
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("read_timeout", 5.0)
    return make_client(simulator.base_url, DEFAULT_KEY, **options)
