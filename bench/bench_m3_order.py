"""M3: calls and wall time to create one 20-line sales order, one MI transaction per call vs
the bulk endpoint, against the simulator at 50 ms latency per request.

The floor is what the latency alone costs: calls times latency. Run: `python -m bench m3`.
"""

import statistics
import time
from decimal import Decimal

from connectors.infor.client import M3Client
from connectors.infor.orders import BatchOrder, order_place
from connectors.infor.simulator import M3Simulator

LATENCY = 0.050  # seconds the simulator adds to every request
LINES = 20
REPEATS = 3  # orders per path; the median is reported


def _batch(cuor: str) -> BatchOrder:
    return BatchOrder(
        head={"CUNO": "WEB0001", "CUOR": cuor, "ORTP": "WEB", "CUCD": "EUR"},
        lines=[
            {
                "ITNO": f"PS-{1001 + i}",
                "ORQT": Decimal(1 + i % 3),
                "SAPR": Decimal("9.90"),
                "CUPO": i + 1,
            }
            for i in range(LINES)
        ],
        addresses=[
            {"ADRT": 1, "CUNM": "Jane Doe", "CUA1": "1 Main Street", "TOWN": "Paris", "CSCD": "FR"}
        ],
        texts=[{"TYPE": 1, "TYTR": 1, "PARM": "Benchmark order"}],
    )


def _measure(sim: M3Simulator, *, use_bulk: bool, label: str) -> dict:
    options = {"cono": "100", "warehouse": "100", "use_bulk": use_bulk}
    client = M3Client.from_ionapi(sim.ionapi(), options=options, connection_key=f"bench-{label}")
    client.tokens.access_token()  # the grant is shared and cached: not part of an order
    walls, calls, transactions = [], [], []
    for n in range(REPEATS):
        before_calls, before_tx = client.stats.calls, client.stats.transactions
        started = time.perf_counter()
        placed = order_place(client, batch=_batch(f"BENCH-{label}-{n}"))
        walls.append(time.perf_counter() - started)
        assert placed.created and len(sim.state.orders[placed.orno].lines) == LINES
        calls.append(client.stats.calls - before_calls)
        transactions.append(client.stats.transactions - before_tx)
    client.close()
    median_calls = int(statistics.median(calls))
    wall = statistics.median(walls)
    floor = median_calls * LATENCY
    return {
        "http_calls": median_calls,
        "mi_transactions": int(statistics.median(transactions)),
        "wall_seconds": round(wall, 3),
        "latency_floor_seconds": round(floor, 3),
        "wall_over_floor": round(wall / floor, 2) if floor else None,
    }


def run() -> dict:
    with M3Simulator(seed=11, latency=LATENCY, items=max(40, LINES)) as sim:
        single = _measure(sim, use_bulk=False, label="single")
        bulk = _measure(sim, use_bulk=True, label="bulk")
    return {
        "order_lines": LINES,
        "latency_ms": LATENCY * 1000,
        "repeats": REPEATS,
        "note": "calls include the look-up by CUOR (LstBatchHead + LstHead) made before creating",
        "single_transaction_path": single,
        "bulk_path": bulk,
        "speedup": round(single["wall_seconds"] / bulk["wall_seconds"], 1),
    }
