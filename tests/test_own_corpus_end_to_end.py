"""A researcher's own corpus end to end, with supported commands only: a Spanish-English pair (not one of
the shipped corpora) -> `gpam prepare custom` -> `gpam study own-corpus` (softmax and daGPAM, two seeds,
tiny preset, a few updates) -> the table. The corpus is a small stand-in made here: sentences built from
a fixed Spanish-English lexicon (the pipeline is under test, not translation quality)."""

import csv
import json
import random

import pytest

from standin_data import run_gpam

SUBJECTS = [("el gato", "the cat"), ("la niña", "the girl"), ("mi hermano", "my brother"),
            ("el profesor", "the teacher"), ("la doctora", "the doctor"), ("nuestro vecino", "our neighbour")]
VERBS = [("come", "eats"), ("ve", "sees"), ("compra", "buys"), ("busca", "looks for"), ("lleva", "carries")]
OBJECTS = [("una manzana", "an apple"), ("el libro", "the book"), ("la mesa", "the table"),
           ("un coche rojo", "a red car"), ("la carta", "the letter"), ("pan fresco", "fresh bread")]
PLACES = [("en casa", "at home"), ("en el parque", "in the park"), ("hoy", "today"), ("por la mañana", "in the morning")]


def write_corpus(prefix, pairs=400, seed=3):
    rng = random.Random(seed)
    es, en = [], []
    for _ in range(pairs):
        parts = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(PLACES)]
        es.append(" ".join(p[0] for p in parts).capitalize() + ".")
        en.append(" ".join(p[1] for p in parts).capitalize() + ".")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".es").write_text("\n".join(es) + "\n", encoding="utf-8")
    prefix.with_suffix(".en").write_text("\n".join(en) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-corpus")
    data, out = root / "data", root / "results"
    write_corpus(root / "corpus" / "all")
    prepared = run_gpam("prepare", "custom", "--name", "mini.es-en", "--src", "es", "--tgt", "en",
                        "--train", root / "corpus" / "all", "--split", "40,40", "--bpe-size", "150",
                        "--workers", "1", "--data-root", data, timeout=300)
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-3000:]
    proc = run_gpam("study", "own-corpus", "--dataset", "mini.es-en", "--preset", "tiny", "--updates", "6",
                    "--seeds", "1,2", "--jobs", "2", "--data-root", data, "--work", root / "work", "--out", out,
                    timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return data, out, proc


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_prepared_pair_is_what_its_prep_info_says(study):
    data, _, _ = study
    info = json.loads((data / "data-bin" / "mini.es-en" / "prep-info.json").read_text())
    assert info["task"] == "translation" and list(info["langs"]) == ["es", "en"]


def test_two_systems_two_seeds_are_trained_kept_and_tabulated(study):
    _, out, proc = study
    runs = read_csv(out / "mini.es-en.runs.csv")
    assert sorted((r["system"], r["seed"]) for r in runs) == [
        ("dagpam-fixed0.2", "1"), ("dagpam-fixed0.2", "2"), ("softmax", "1"), ("softmax", "2")]
    for run in runs:
        assert run["setting"] == "mini.es-en, es-en, tiny preset, model tiny, post-LN, tag u6"
        assert int(run["updates"]) == 6 and "sacreBLEU" in run["test scores"]
    for kept in (out / "runs").rglob("run-info.json"):
        assert not list(kept.parent.glob("*.pt"))  # only light files are kept
    rows = {r["metric"]: r for r in read_csv(out / "summary.csv")}
    sacre = rows["sacreBLEU"]
    assert sacre["seeds (baseline/compared)"] == "2/2" and sacre["compared system"] == "dagpam-fixed0.2"
    assert sacre["p (paired bootstrap, per seed)"].count("seed ") == 2 and "n/a" not in sacre["p (paired bootstrap, per seed)"]
    assert [p.name for p in (out / "refs").iterdir()] == ["mini.es-en.test.raw.en"]
    assert "sacreBLEU" in proc.stdout  # the table is printed too
