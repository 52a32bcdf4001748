"""`gpam collect` on hand-made run directories: statistics over seeds, the paired bootstrap,
the paper's figure only beside a full-size run of its setting, and the scale of every run."""

import csv
import json
import statistics

import pytest

from gpam_tools.collect.logs import parse_train_log
from gpam_tools.collect.plots import system_styles
from gpam_tools.stats.paired_power import minimum_detectable_effect
from standin_data import REPO, run_gpam, script_env

REFS = [f"the reference sentence number {i} is here ." for i in range(60)]


def make_run(root, dataset, system, seed, scores, hyps=None, preset="full", model="iwslt", ln="pre",
             src="en", tgt="de", task="translation", valid=((100, 8.0), (200, 6.5))):
    group = f"{dataset}.{src}-{tgt}" if task == "translation" else dataset
    run = root / group / f"{model}-{ln}ln" / system / f"seed{seed}"
    run.mkdir(parents=True)
    info = {"benchmark": dataset, "dataset": dataset, "task": task, "src": src if task == "translation" else "",
            "tgt": tgt if task == "translation" else "", "preset": preset, "model": model, "ln": ln,
            "attention": system.split("-")[0], "system": system, "seed": str(seed), "dry_run": "0",
            "train_lines": "160239", "arch": "x", "max_tokens": 4096, "update_freq": 2, "workers": 1,
            "effective_batch_tokens": 8192, "hardware": {"cpu": "test cpu", "cpu_cores": 2, "gpus": 0, "gpu_names": []},
            "data_bin": str(root / "nodata")}
    (run / "run-info.json").write_text(json.dumps(info))
    log = ["2026-01-01 | INFO | fairseq_cli.train | num. shared model params: 1,234,567 (num. trained: 1,234,567)"]
    log += [f'2026-01-01 | INFO | valid | {{"epoch": 1, "valid_loss": "{l}", "valid_num_updates": "{u}"}}' for u, l in valid]
    log += ['2026-01-01 | INFO | train | {"epoch": 1, "train_loss": "6.1", "train_num_updates": "200"}',
            "2026-01-01 | INFO | fairseq_cli.train | done training in 120.0 seconds"]
    (run / "train.log").write_text("\n".join(log) + "\n")
    result = dict(scores, checkpoint="checkpoint_best", beam="5", lenpen="1.0", bpe="subword_nmt", tokenizer="moses")
    if hyps is not None:
        (run / "hyps.txt").write_text("".join(h + "\n" for h in hyps))
        result["hypotheses_file"] = "hyps.txt"
    name = "eval-translation" if task == "translation" else "eval-lm"
    (run / f"{name}.checkpoint_best.json").write_text(json.dumps(result))
    return run


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    refs_dir = tmp_path / "refs"
    refs_dir.mkdir()
    (refs_dir / "iwslt14.de-en.test.raw.de").write_text("".join(r + "\n" for r in REFS))
    worse = [r.replace("number", "nr").replace("is here", "") for r in REFS]
    for seed, (b, d) in enumerate([(28.0, 29.0), (28.4, 29.8), (27.9, 29.1)], start=1):
        make_run(root, "iwslt14.de-en", "softmax", seed, {"sacrebleu": b, "bleu_tokenized": b + 1}, worse)
        make_run(root, "iwslt14.de-en", "dagpam-fixed0.2", seed, {"sacrebleu": d, "bleu_tokenized": d + 1}, REFS)
    # a scaled-down run of the same benchmark: never beside the paper's figure
    make_run(root, "iwslt14.de-en", "softmax", 1, {"sacrebleu": 5.0, "bleu_tokenized": 6.0}, preset="cpu", model="cpu")
    make_run(root, "iwslt14.de-en", "dagpam-fixed0.2", 1, {"sacrebleu": 5.5, "bleu_tokenized": 6.5}, preset="cpu", model="cpu")
    make_run(root, "wikitext-103", "softmax", 1, {"perplexity": 26.5, "context_window": 400, "tokens_per_sample": 512},
             task="language_modeling", model="lm8")
    make_run(root, "wikitext-103", "dagpam-fixed0.2", 1, {"perplexity": 25.9, "context_window": 400,
             "tokens_per_sample": 512}, task="language_modeling", model="lm8")
    return root, refs_dir


def test_collect_tables(runs, tmp_path):
    root, refs_dir = runs
    out = tmp_path / "out"
    proc = run_gpam("collect", root, "--refs", refs_dir, "--out", out)
    assert proc.returncode == 0, proc.stderr
    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    full = next(r for r in rows if r["metric"] == "sacreBLEU" and "full preset" in r["setting"])
    base, dag = [28.0, 28.4, 27.9], [29.0, 29.8, 29.1]
    assert full["baseline"] == f"{statistics.fmean(base):.2f} ± {statistics.stdev(base):.2f}"
    assert full["compared"] == f"{statistics.fmean(dag):.2f} ± {statistics.stdev(dag):.2f}"
    assert full["difference"] == f"{statistics.fmean(dag) - statistics.fmean(base):+.2f}"
    assert full["seeds (baseline/compared)"] == "3/3" and full["better mean"] == "dagpam-fixed0.2"
    assert full["difference per seed"] == "seed 1: +1.00, seed 2: +1.40, seed 3: +1.20"
    # daGPAM's hypotheses equal the references, the baseline's do not: significant for every seed
    p_values = [float(p.split(": ")[1]) for p in full["p (paired bootstrap, per seed)"].split(", ")]
    assert len(p_values) == 3 and all(p < 0.01 for p in p_values)
    # over seeds, paired by seed: differences 1.0, 1.4, 1.2 -> t = 1.2 / (0.2 / sqrt(3)) on 2 degrees of freedom
    t = 1.2 / (0.2 / 3 ** 0.5)
    assert full["p (paired t-test over seeds)"] == f"{2 * (1 - student_t_cdf(t, 2)):.3f} (n=3)"
    # 95% interval: 1.2 +- t_{0.975, 2} 0.2 / sqrt(3), with t_{0.975, 2} = 4.3027 (tables); MDE from the same sd
    half = 4.302653 * 0.2 / 3 ** 0.5
    assert full["95% interval (paired, over seeds)"] == f"[{1.2 - half:+.2f}, {1.2 + half:+.2f}]"
    assert full["MDE (80% power, these seeds)"] == f"{minimum_detectable_effect(0.2, 3):.2f} (n=3, sd 0.20)"
    assert (full["paper baseline"], full["paper daGPAM"]) == ("28.54", "29.25")
    assert "0.000 x" not in full["scale"] and "1.23M params" in full["scale"] and "8192 tokens" in full["scale"]
    cpu = next(r for r in rows if r["metric"] == "sacreBLEU" and "cpu preset" in r["setting"])
    assert cpu["paper baseline"] == "–" and cpu["p (paired bootstrap, per seed)"] == "–"  # one seed: no p
    assert cpu["better mean"] == "one seed: no conclusion"
    assert cpu["p (paired t-test over seeds)"] == "–"  # one seed: no test
    assert cpu["95% interval (paired, over seeds)"] == cpu["MDE (80% power, these seeds)"] == "–"
    assert cpu["difference per seed"] == "seed 1: +0.50"
    lm = next(r for r in rows if r["metric"] == "test perplexity")
    assert (lm["paper baseline"], lm["paper daGPAM"]) == ("25.96", "25.33") and lm["better mean"] == "one seed: no conclusion"
    assert "context window 400" in (out / "wikitext-103.md").read_text()
    with open(out / "iwslt14.de-en.runs.csv", newline="") as f:
        scale = list(csv.DictReader(f))
    assert len(scale) == 8 and all(r["effective batch (tokens)"] == "8192 = 1 x 4096 x 2" for r in scale)
    assert all(r["training time"] == "2.0 min" and r["best valid loss (base 2)"] == "6.500" for r in scale)
    # each run's own scores, so that a per-seed figure can be read from the tables
    seed2 = next(r for r in scale if r["system"] == "softmax" and r["seed"] == "2" and "full" in r["setting"])
    assert seed2["test scores"] == "checkpoint_best: tokenized BLEU 29.40, sacreBLEU 28.40"
    with open(out / "wikitext-103.runs.csv", newline="") as f:
        lm_scores = sorted(r["test scores"] for r in csv.DictReader(f))
    assert lm_scores == ["checkpoint_best: test perplexity 25.90", "checkpoint_best: test perplexity 26.50"]
    assert (out / "valid_loss.wikitext-103.full.lm8.pre.png").read_bytes()[:4] == b"\x89PNG"


def test_each_system_of_a_plot_has_its_own_line_and_softmax_is_solid():
    alternatives = ["softmax", "dagpam-fixed0.2", "non", "nap", "coda", "diff", "cog", "dagpam-learned"]
    styles = system_styles(alternatives + ["softmax"])  # the seeds of one system: one entry
    assert sorted(styles) == sorted(alternatives) and styles["softmax"][1] == "-"
    assert len(set(styles.values())) == len(alternatives)
    assert len(set(system_styles([f"system{i}" for i in range(40)]).values())) == 40


def test_collect_refuses_a_directory_without_runs(tmp_path):
    proc = run_gpam("collect", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode != 0
    assert "no run-info.json under" in proc.stderr and "train with scripts/train.sh first" in proc.stderr
    assert not (tmp_path / "out" / "summary.md").exists()


def test_train_log_parser_keeps_the_latest_validation_per_update(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        '| valid | {"valid_loss": "5.0", "valid_num_updates": "100"}\n'
        '| valid | {"valid_loss": "4.0", "valid_num_updates": "200"}\n'
        '| valid | {"valid_loss": "4.5", "valid_num_updates": "100"}\n'  # a resumed run validates again
    )
    assert parse_train_log(log)["valid"] == [(100, 4.5), (200, 4.0)]


def test_training_time_of_a_cut_off_and_resumed_run_counts_each_update_once(tmp_path):
    """Segment 1 loads nothing at 10:00:00, saves at update 100 (10:10:00), logs update 150 and
    is killed; segment 2 resumes from update 100 and finishes in fairseq's own 700.0 seconds.
    Counted: 600 s (to the last save) + 700 s; the 50 repeated updates are not counted twice."""
    ckpt = "fairseq.checkpoint_utils | Saved checkpoint /w/checkpoint_1_100.pt (epoch 1 @ 100 updates, score 5.0)"
    log = tmp_path / "train.log"
    log.write_text(
        "2026-01-01 10:00:00 | INFO | fairseq.trainer | No existing checkpoint found /w/checkpoint_last.pt\n"
        '2026-01-01 10:09:50 | INFO | valid | {"valid_loss": "5.0", "valid_num_updates": "100"}\n'
        f"2026-01-01 10:10:00 | INFO | {ckpt}\n"
        '2026-01-01 10:14:00 | INFO | train_inner | {"epoch": 1, "upd'  # the line the kill cut short
        "\n2026-01-02 08:00:00 | INFO | fairseq.trainer | Loaded checkpoint /w/checkpoint_last.pt (epoch 1 @ 100 updates)\n"
        '2026-01-02 08:10:00 | INFO | valid | {"valid_loss": "4.0", "valid_num_updates": "200"}\n'
        '2026-01-02 08:11:00 | INFO | train | {"epoch": 1, "train_loss": "6.1", "train_num_updates": "200"}\n'
        "2026-01-02 08:11:40 | INFO | fairseq_cli.train | done training in 700.0 seconds\n")
    parsed = parse_train_log(log)
    assert parsed["train_seconds"] == 600 + 700.0
    assert parsed["segments"] == 2 and parsed["updates"] == 200
    assert parsed["valid"] == [(100, 5.0), (200, 4.0)]


def test_a_run_cut_off_before_its_first_checkpoint_has_no_training_time(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("2026-01-01 10:00:00 | INFO | fairseq.trainer | No existing checkpoint found /w/checkpoint_last.pt\n"
                   '2026-01-01 10:05:00 | INFO | train_inner | {"epoch": 1, "num_updates": "50"}\n')
    assert parse_train_log(log)["train_seconds"] is None


def test_two_collectors_writing_the_same_tables_at_once(runs, tmp_path):
    """Both finish, and the tables are whole: each file is one collector's complete output."""
    import subprocess
    import sys

    root, refs_dir = runs
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "gpam_tools", "collect", str(root), "--refs", str(refs_dir), "--out", str(out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                              env=script_env()) for _ in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert all(code == 0 for _, _, code in results), [err[-2000:] for _, err, _ in results]
    single = tmp_path / "single"
    assert run_gpam("collect", root, "--refs", refs_dir, "--out", single).returncode == 0
    for name in ("summary.md", "summary.csv", "iwslt14.de-en.runs.csv"):
        assert (out / name).read_text() == (single / name).read_text()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_unwritable_output_directory_is_named(runs, tmp_path):
    root, refs_dir = runs
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    proc = run_gpam("collect", root, "--out", blocker / "tables")
    assert proc.returncode == 2
    assert f"cannot write the tables into --out {blocker / 'tables'}" in proc.stderr
    assert "Traceback" not in proc.stderr and blocker.read_text() == "keep me\n"


def student_t_cdf(t, dof):
    """Closed form of Student's t CDF for 2 degrees of freedom (the only case used here)."""
    assert dof == 2
    return 0.5 + t / (2 * (2 + t * t) ** 0.5)
