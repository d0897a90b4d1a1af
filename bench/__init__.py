"""Benchmarks: `make bench` prints the figures a user cares about, measured side by side in one run."""
