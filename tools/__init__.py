"""Developer tools: benchmarks (bench.py) and the load test (stress.py)."""
