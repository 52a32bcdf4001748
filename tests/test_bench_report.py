"""gpam bench's report (gpam_tools.bench.report) (the measuring itself lives in the benchmark, not in tests): a missed
target is explained, one below the arithmetic floor is called so, and the report is written again from
the saved raw measurements."""

import pytest

from gpam_tools.bench import command, report
from gpam_tools.bench import workloads as wl
from gpam_tools.bench.measure import aggregate
from gpam_tools.bench.settings import Settings

PRODUCTS = {"ratio": 0.35, "flop_ratio": 0.25}


def test_all_targets_met():
    rows = [("module", "module", 1.5, "1.42"), ("step", "train", 1.04, "1.030"),
            ("generation", "generate", 1.1, "1.037"), ("memory", "memory", 1.05, "-")]
    assert report._explain_misses(rows, PRODUCTS) == "All four targets are met in this run.\n"


def test_a_missed_target_is_explained_and_a_target_below_its_floor_is_named():
    rows = [("module", "module", 1.7, "1.42"), ("step", "train", 1.11, "1.057"),
            ("generation", "generate", 1.05, "1.037"), ("memory", "memory", 1.2, "-")]
    text = report._explain_misses(rows, PRODUCTS)
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line.split(":")[0] for line in lines] == ["- module", "- step", "- memory"]
    step = lines[1]
    assert "measured 1.110 against the target 1.05; arithmetic floor 1.057 (the target lies below it" in step
    assert "0.25 of a projection product in FLOPs" in step and "0.35 of its time" in step
    assert "lies below" not in lines[0] and "lies below" not in lines[2]


def fake_measurements(module_ratio=1.5, train_ratio=1.08):
    """Raw measurements shaped as gpam bench's measuring functions return them (values made up)."""
    base, gpam = wl.BASELINE, "dagpam"
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
    return dict(machine={"CPU": "test"}, command="gpam bench", modules=modules,
                products={"ratio": 0.35, "flop_ratio": 0.25, "ms": {"projection": 1.0, "negative query": 0.35}},
                train=aggregate([batch(train_ratio, "tokens")], "tokens"),
                gen=aggregate([batch(1.05, "sentences")], "sentences"),
                memory=memory, load=(0.5, 0.7), elapsed=600.0)


def test_report_is_written_again_from_the_saved_raw_measurements(tmp_path):
    settings = Settings.make(quick=True)
    measured = fake_measurements()
    raw = tmp_path / "benchmarks.json"
    report.save_measurements(raw, settings, measured)
    command.main(["--render-only", str(raw)])
    text = (tmp_path / "benchmarks.md").read_text()
    assert text == report.render(settings, **measured)
    assert "| training step time | <= 1.05 | 1.080 | 1.057 | **no** |" in text
    assert "| peak training memory | <= 1.10 | 1.050 | - | yes |" in text


def test_render_only_refuses_a_file_that_is_not_raw_measurements(tmp_path):
    bad = tmp_path / "benchmarks.json"
    bad.write_text('{"settings": {}}')
    kept = tmp_path / "benchmarks.md"
    kept.write_text("kept")
    with pytest.raises(SystemExit, match="is not a raw-measurement file of gpam bench.*measure again"):
        command.main(["--render-only", str(bad)])
    assert kept.read_text() == "kept"
