"""Benchmarks: `make bench` (all) or `make bench BENCH_ARGS="engine"` (names matching)."""
