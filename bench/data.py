"""Benchmark inputs, generated once and cached under bench/.data (same seed, same bytes)."""

from __future__ import annotations

from pathlib import Path

from aiqleads_offline.generate import generate_file

DATA_DIR = Path(__file__).resolve().parent / ".data"


def leads_file(rows: int, suffix: str = ".csv", seed: int = 20261126) -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"leads-{rows}-{seed}{suffix}"
    if not path.exists():
        partial = path.with_name(path.name + ".partial" + suffix)
        generate_file(rows, seed, partial)
        partial.rename(path)
    return path
