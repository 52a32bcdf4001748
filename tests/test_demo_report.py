"""The demo's report (gpam_tools/study/demo_report.py) and the unigram floor (gpam_tools/stats/unigram.py)."""

import json
import math
from collections import Counter
from pathlib import Path

from gpam_tools.study.demo_report import NO_CONCLUSION, examples, multi_seed, one_seed_rows, verdict
from gpam_tools.stats.unigram import unigram_perplexity
from standin_data import prepare


def test_unigram_perplexity_counts_every_test_token_with_add_one_smoothing(tmp_path):
    from fairseq.data import Dictionary

    data_bin = prepare("ci_lm", tmp_path, limit=200)
    result = unigram_perplexity(data_bin)
    text = tmp_path / "text" / "ci_lm"
    tokens = lambda split: [w for line in (text / f"{split}.txt").read_text().splitlines()
                            for w in line.split() + ["</s>"]]
    dictionary = Dictionary.load(str(data_bin / "dict.txt"))
    train, test = Counter(tokens("train")), tokens("test")
    assert result["tokens"] == len(test) and result["train_tokens"] == sum(train.values())
    # every test word is in the dictionary here (built on train) or <unk>, counted as fairseq maps it
    vocab = len(dictionary)
    unk = dictionary.unk_word
    train_counts = Counter(w if dictionary.index(w) != dictionary.unk() else unk for w in train.elements())
    expected = math.exp(-sum(math.log((train_counts[w if dictionary.index(w) != dictionary.unk() else unk] + 1)
                                      / (sum(train.values()) + vocab)) for w in test) / len(test))
    assert abs(result["perplexity"] - expected) < 1e-6 * expected


def _run(root: Path, system: str, task: str, scores: dict, hyps=None):
    run = root / "runs" / "x" / system / "seed1"
    run.mkdir(parents=True)
    info = {"dataset": "toy", "task": task, "system": system, "seed": 1, "preset": "demo", "model": "demo",
            "ln": "pre", "src": "de" if task == "translation" else None, "tgt": "en" if task == "translation" else None}
    (run / "run-info.json").write_text(json.dumps(info))
    (run / "train.log").write_text("")
    result = {"checkpoint": "checkpoint_last", **scores}
    if hyps is not None:
        (run / "hyps.txt").write_text("\n".join(hyps) + "\n")
        result["hypotheses_file"] = "hyps.txt"
    (run / "eval-translation.checkpoint_last.json").write_text(json.dumps(result))


def test_one_seed_rows_name_no_winner_and_examples_show_every_system(tmp_path):
    from gpam_tools.collect.reading import read_runs

    refs = ["a b", "one two three four five six", "s e v e n w o r d s", "x y z w v u"]
    _run(tmp_path, "softmax", "translation", {"sacrebleu": 10.0}, [f"base {i}" for i in range(4)])
    _run(tmp_path, "dagpam-fixed0.2", "translation", {"sacrebleu": 11.5}, [f"gpam {i}" for i in range(4)])
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "toy.test.raw.en").write_text("\n".join(refs) + "\n")
    (tmp_path / "text" / "toy").mkdir(parents=True)
    (tmp_path / "text" / "toy" / "test.raw.de").write_text("\n".join(f"quelle {i}" for i in range(4)) + "\n")
    runs = read_runs([tmp_path / "runs"])
    rows = one_seed_rows(runs, tmp_path)
    assert [(r["metric"], r["softmax"], r["daGPAM"], r["conclusion"]) for r in rows] == \
        [("sacreBLEU", "10.00", "11.50", NO_CONCLUSION)]
    assert not any("better" in str(v) or "p " in str(v) for r in rows for v in r.values())
    text = examples(runs, [tmp_path / "refs"], tmp_path, count=2)
    assert "Test sentences 2, 3 of toy" in text  # the first with 6 to 12 words
    for line in ("quelle 1", "one two three four five six", "base 1", "gpam 1", "base 2", "gpam 2"):
        assert line in text


def test_multi_seed_rows_and_verdict_come_from_the_generated_summary(tmp_path):
    row = {"metric": "sacreBLEU", "difference": "+0.04", "p (paired t-test over seeds)": "0.880 (n=3)",
           "seeds (baseline/compared)": "3/3"}
    assert verdict(row) == "no difference shown (p = 0.88, seeds 3/3)"
    assert verdict({**row, "p (paired t-test over seeds)": "0.010 (n=5)"}).startswith("daGPAM better")
    assert verdict({**row, "metric": "test perplexity", "difference": "+1.00",
                    "p (paired t-test over seeds)": "0.010 (n=5)"}).startswith("daGPAM worse")
    assert verdict({**row, "p (paired t-test over seeds)": "–"}) == "no test (seeds 3/3)"
    table = multi_seed(Path(__file__).resolve().parents[1] / "results" / "comparison")
    assert "dagpam" not in table.splitlines()[0] and "verdict" in table
    assert (tmp_path / "none" / "summary.csv").name in multi_seed(tmp_path / "none")
