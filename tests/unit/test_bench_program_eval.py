"""bench/program_eval.py runs (at a tiny size, untimed), so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_program_eval_measures_wgsites_and_a_floor_of_as_many_resources(tmp_path):
    program_eval = load("program_eval")
    row = program_eval.measure(peers=2, repeats=1, workdir=tmp_path)  # raises if the floor registered otherwise
    assert row["peers"] == 2 and row["exports"] == 3 + 3 * 2  # hub key, endpoint, public keys; 3 per peer
    assert row["resources"] > 2 and min(row["floor"], row["cold"], row["warm"]) > 0
    assert len(list((tmp_path / "qr-2").glob("*.qr"))) == 2  # the cold run made both codes, the warm one read them
    lines = program_eval.report([row, {**row, "peers": 20}])
    assert lines[2].startswith("| 2 | ") and lines[3].startswith("| 20 | ")
