import json
from pathlib import Path

import pytest
from django.core.cache import cache

from connectors.infor.client import M3Client
from connectors.infor.simulator import M3Simulator

# The reference pack lives beside the repository: /work/shared/reference/infor/samples
SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "infor" / "samples"

OPTIONS = {
    "cono": "100",
    "warehouse": "100",
    "customer_template": "WEBTMPL",
    "order_type": "WEB",
    "read_timeout": 5.0,
}


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    # Tokens are shared through Django's cache; each test starts without one.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"reference samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture
def sample(samples):
    def load(name: str):
        text = (samples / name).read_text()
        return json.loads(text) if name.endswith((".json", ".ionapi")) else text

    return load


@pytest.fixture
def sim():
    with M3Simulator(seed=7, token_lifetime=600, progress={"allocate": 10}) as simulator:
        yield simulator


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sim, sleeps) -> M3Client:
    c = M3Client.from_ionapi(sim.ionapi(), options=dict(OPTIONS), sleep=sleeps.append)
    yield c
    c.close()
