"""Runs every bench/bench_*.py (or those whose name contains an argument).

A benchmark module defines `run() -> dict` returning its figures; the runner prints them and
writes bench/results/<name>.json with the machine and time they were measured on.
"""

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    wanted = argv[1:]
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    selected = [m for m in modules if not wanted or any(w in m for w in wanted)]
    if not selected:
        sys.stderr.write(f"no benchmark matches {wanted}; have: {', '.join(modules)}\n")
        return 2
    RESULTS.mkdir(exist_ok=True)
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        figures = module.run()
        report = {
            "benchmark": name.removeprefix("bench_"),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "wall_seconds": round(time.perf_counter() - started, 2),
            "figures": figures,
        }
        stem = name.removeprefix("bench_")
        if getattr(module, "PER_BACKEND", False):
            # Figures that depend on the database and broker are kept per backend.
            stem += f"-{figures.get('database', 'db')}-{figures.get('broker', 'broker')}"
        path = RESULTS / f"{stem}.json"
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        sys.stdout.write(f"\n== {report['benchmark']} -> {path.relative_to(HERE.parent)}\n")
        sys.stdout.write(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
