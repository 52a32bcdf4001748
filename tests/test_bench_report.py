"""scripts/bench.py's report (the measuring itself lives in the benchmark, not in tests): a missed
target is explained, one below the arithmetic floor is called so, and the report is written again from
the saved raw measurements."""

import importlib.util
import sys

import pytest
from standin_data import REPO

sys.path.insert(0, str(REPO / "scripts"))
spec = importlib.util.spec_from_file_location("bench", REPO / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

PRODUCTS = {"ratio": 0.35, "flop_ratio": 0.25}


def test_all_targets_met():
    rows = [("module", "module", 1.5, "1.42"), ("step", "train", 1.04, "1.030"),
            ("generation", "generate", 1.1, "1.037"), ("memory", "memory", 1.05, "-")]
    assert bench._explain_misses(rows, PRODUCTS) == "All four targets are met in this run.\n"


def test_a_missed_target_is_explained_and_a_target_below_its_floor_is_named():
    rows = [("module", "module", 1.7, "1.42"), ("step", "train", 1.11, "1.057"),
            ("generation", "generate", 1.05, "1.037"), ("memory", "memory", 1.2, "-")]
    text = bench._explain_misses(rows, PRODUCTS)
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line.split(":")[0] for line in lines] == ["- module", "- step", "- memory"]
    step = lines[1]
    assert "measured 1.110 against the target 1.05; arithmetic floor 1.057 (the target lies below it" in step
    assert "0.25 of a projection product in FLOPs" in step and "0.35 of its time" in step
    assert "lies below" not in lines[0] and "lies below" not in lines[2]


def fake_measurements(module_ratio=1.5, train_ratio=1.08):
    """Raw measurements shaped as bench.py's measuring functions return them (values made up)."""
    base, gpam = bench.wl.BASELINE, "dagpam"
    modules = [dict(kind="decoder", length=64, batch=8, variant=v, ms=ms, ratio=r, spread=0.1, flops=f,
                    flop_ratio=f / 100) for v, ms, r, f in ((base, 10.0, 1.0, 100), (gpam, 15.0, module_ratio, 142))]

    def batch(ratio, unit):
        return {unit: 100, "src_len": 20, "tgt_len": 22, "steps": 24, "sentences": 8, "tokens": 100,
                "seconds": {"baseline": 2.0, "dagpam": 2.0 * ratio}, "ratio": {"dagpam": ratio},
                "spread": {"dagpam": 0.02}, "flops": {"baseline": 1000, "dagpam": 1057}}

    memory = {"module": {base: {"decoder/64": 2**20}, gpam: {"decoder/64": 2 * 2**20}},
              "train": {"baseline": {"peak": 100 * 2**20, "tokens": 100}, "dagpam": {"peak": 105 * 2**20, "tokens": 100}},
              "generate": {"baseline": {"peak": 50 * 2**20, "sentences": 8},
                           "dagpam": {"peak": 51 * 2**20, "sentences": 8}}}
    return dict(machine={"CPU": "test"}, command="python scripts/bench.py", modules=modules,
                products={"ratio": 0.35, "flop_ratio": 0.25, "ms": {"projection": 1.0, "negative query": 0.35}},
                train=bench._aggregate([batch(train_ratio, "tokens")], "tokens"),
                gen=bench._aggregate([batch(1.05, "sentences")], "sentences"),
                memory=memory, load=(0.5, 0.7), elapsed=600.0)


def test_report_is_written_again_from_the_saved_raw_measurements(tmp_path):
    settings = bench.Settings.make(quick=True)
    measured = fake_measurements()
    raw = tmp_path / "benchmarks.json"
    bench.save_measurements(raw, settings, measured)
    bench.main(["--render-only", str(raw)])
    report = (tmp_path / "benchmarks.md").read_text()
    assert report == bench.render(settings, **measured)
    assert "| training step time | <= 1.05 | 1.080 | 1.057 | **no** |" in report
    assert "| peak training memory | <= 1.10 | 1.050 | - | yes |" in report


def test_render_only_refuses_a_file_that_is_not_raw_measurements(tmp_path):
    bad = tmp_path / "benchmarks.json"
    bad.write_text('{"settings": {}}')
    report = tmp_path / "benchmarks.md"
    report.write_text("kept")
    with pytest.raises(SystemExit, match="is not a raw-measurement file of scripts/bench.py.*measure again"):
        bench.main(["--render-only", str(bad)])
    assert report.read_text() == "kept"
