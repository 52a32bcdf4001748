"""``gpam prepare custom`` (issue 18.2-3): your own corpus under the data contract, and every kind
of bad input refused before anything is written, with the fix in the message.

The parallel corpus is the labelled stand-in of own_corpus_standin.py (German text under the
code "es": a pair no shipped corpus uses); runs are in-process and tiny (a few seconds each).
"""

import hashlib
import json
from pathlib import Path

import pytest

from gpam_tools.run import datasets
from gpam_tools.prepare import cli, custom_checks
from own_corpus_standin import write_standin_parallel_corpus
from prep_fixtures import CORPORA, assert_contract, binarised_sizes, lines, unbpe

SMALL = {"train": 300, "valid": 30, "test": 30, "all": 360}


def prepare(*args, root: Path) -> int:
    return cli.main(["custom", *map(str, args), "--data-root", str(root), "--workers", "1"])


def refused(capsys, root: Path, *args, patterns=()) -> str:
    """Run, expect status 2 with every pattern in the message, and nothing written at all."""
    def tree():
        return sorted(root.rglob("*")) if root.exists() else None

    before = tree()
    assert prepare(*args, root=root) == 2
    err = capsys.readouterr().err
    assert err.startswith("ERROR: "), err
    for pattern in patterns:
        assert pattern in err, f"no '{pattern}' in: {err}"
    assert tree() == before
    return err


@pytest.fixture
def corpus(tmp_path):
    return write_standin_parallel_corpus(tmp_path / "corpus", sizes=SMALL)


def test_translation_with_own_splits(tmp_path, corpus, capsys):
    root = tmp_path / "root"
    assert prepare("--name", "standin.es-en", "--src", "es", "--tgt", "en", "--train",
                   corpus["train"], "--valid", corpus["valid"], "--test", corpus["test"],
                   "--bpe-size", "300", root=root) == 0
    info = assert_contract(root, "standin.es-en", "translation")
    assert (info["langs"], info["src"], info["tgt"]) == (["es", "en"], "es", "en")
    assert (info["kind"], info["model_family"], info["full_model"]) == ("custom", "translation", "iwslt")
    assert info["lines"]["train"] == {"es": 300, "en": 300} and info["lines"]["test"]["en"] == 30
    assert (info["tokenizer"], info["lowercase"], info["bpe"]) == ("moses", False, "subword_nmt")
    # the SHA-256 of every input is recorded
    recorded = {s["path"]: s["sha256"] for s in info["sources"]}
    for split in ("train", "valid", "test"):
        for lang in ("es", "en"):
            path = Path(f"{corpus[split]}.{lang}")
            assert recorded[str(path)] == hashlib.sha256(path.read_bytes()).hexdigest()
    # references: the untokenised test text, case kept
    text = root / "text" / "standin.es-en"
    assert lines(text / "test.raw.en") == [" ".join(s.split()) for s in
                                           lines(Path(corpus["test"] + ".en"))]
    binary = root / "data-bin" / "standin.es-en"
    assert binarised_sizes(binary, "valid.es-en.es", "dict.es.txt") == 30
    assert json.loads((binary / "prep-info.json").read_text())["options"]["bpe_size"] == 300
    # the run layer takes task, languages and subword scheme from prep-info.json alone
    found = datasets.load(binary, tgt="es")
    assert (found.task, found.src, found.tgt, found.bpe) == ("translation", "en", "es", "subword_nmt")


def test_translation_split_sentencepiece_lowercase(tmp_path, capsys):
    whole = write_standin_parallel_corpus(tmp_path / "one", src="fr", sizes=SMALL, splits=("all",))
    root = tmp_path / "root"
    args = ["--src", "fr", "--tgt", "en", "--train", whole["all"], "--split", "20,25",
            "--bpe", "sentencepiece", "--bpe-size", "300", "--lowercase"]
    assert prepare("--name", "a", *args, root=root) == 0
    info = assert_contract(root, "a", "translation")
    assert info["lines"]["train"]["fr"] == 360 - 45 and info["lines"]["valid"]["fr"] == 20
    assert info["lines"]["test"]["en"] == 25
    assert (info["tokenizer"], info["remove_bpe"], info["lowercase"]) == ("none", "sentencepiece", True)
    assert info["test_reference"]["lowercase"] is True
    refs = lines(root / "text" / "a" / "test.raw.en")
    source = [" ".join(s.split()).lower() for s in lines(Path(whole["all"] + ".en"))]
    assert refs == [s for s in source if s in set(refs)]  # held out pairs keep corpus order
    # the split is deterministic (--seed), and held-out pairs are not in train
    both = {"fr": lines(Path(whole["all"] + ".fr")), "en": lines(Path(whole["all"] + ".en"))}
    assert custom_checks.hold_out(both, 20, 25, seed=1) == custom_checks.hold_out(both, 20, 25, seed=1)
    assert custom_checks.hold_out(both, 20, 25, seed=1) != custom_checks.hold_out(both, 20, 25, seed=2)
    train_raw = set(lines(root / "text" / "a" / "train.en"))
    assert not train_raw & set(lines(root / "text" / "a" / "test.en"))


def _paragraph_file(path: Path, documents: int) -> Path:
    """Plain text of ci_lm's valid articles, a paragraph a line, documents separated by empty lines."""
    body = [l.strip() for l in lines(CORPORA / "ci_lm" / "wiki.valid.tokens")
            if l.strip() and not l.startswith(" =")]
    per_doc = len(body) // documents
    text = "\n\n".join("\n".join(body[i * per_doc:(i + 1) * per_doc]) for i in range(documents))
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_language_modelling_files_and_split_by_document(tmp_path, capsys):
    root = tmp_path / "root"
    train, held_out = (str(CORPORA / "ci_lm" / f"wiki.{s}.tokens") for s in ("valid", "test"))
    assert prepare("--name", "mylm", "--lang", "en", "--train", train, "--valid", held_out,
                   "--test", held_out, "--bpe-size", "300", root=root) == 0
    info = assert_contract(root, "mylm", "language_modeling")
    assert (info["langs"], info["full_model"], info["kind"]) == (["en"], "lm", "custom")
    assert info["lines"]["valid"] == len(lines(Path(held_out)))
    whole = _paragraph_file(tmp_path / "books.txt", documents=20)
    assert prepare("--name", "books", "--lang", "en", "--train", whole, "--split", "0.1,0.1",
                   "--bpe-size", "300", root=root) == 0
    info = assert_contract(root, "books", "language_modeling")
    split = info["split"]
    assert sum(split[s]["books.txt"]["documents"] for s in ("train", "valid", "test")) == 20
    assert min(split[s]["books.txt"]["documents"] for s in ("valid", "test")) >= 1
    assert info["options"]["documents"] == "blank-line"


# ---------------------------------------------------------------- bad input (issue 18.3)
def test_unaligned_line_counts_refused(tmp_path, corpus, capsys):
    with open(corpus["train"] + ".en", "a", encoding="utf-8") as f:
        f.write("one line too many\n")
    refused(capsys, tmp_path / "root", "--name", "x", "--src", "es", "--tgt", "en", "--train",
            corpus["train"], "--valid", corpus["valid"], "--test", corpus["test"],
            patterns=("train.es has 300 lines but", "train.en has 301", "line-aligned"))


def test_empty_lines_refused_or_skipped_on_request(tmp_path, corpus, capsys):
    path = Path(corpus["valid"] + ".es")
    text = lines(path)
    text[4] = "   "
    text[9] = ""
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    args = ["--src", "es", "--tgt", "en", "--train", corpus["train"], "--valid", corpus["valid"],
            "--test", corpus["test"], "--bpe-size", "200"]
    root = tmp_path / "root"
    refused(capsys, root, "--name", "x", *args,
            patterns=("--valid: 2 pair(s)", "empty side (line 5, 10)", "--skip-empty"))
    assert prepare("--name", "x", *args, "--skip-empty", "--max-words", "20", "--max-ratio", "1.5",
                   root=root) == 0
    info = assert_contract(root, "x", "translation")
    assert info["lines"]["valid"] == {"es": 28, "en": 28}  # valid and test are never cleaned
    assert info["options"]["pairs_skipped"] == {"valid": 2}
    # --max-words/--max-ratio: only training pairs within both limits are left (in Moses tokens)
    text = root / "text" / "x"
    train = list(zip(*(lines(text / f"train.{l}") for l in ("es", "en"))))
    assert 0 < len(train) == info["lines"]["train"]["es"] < 300
    for pair in train:
        n_es, n_en = (len(unbpe(side).split()) for side in pair)
        assert max(n_es, n_en) <= 20 and max(n_es / n_en, n_en / n_es) <= 1.5


@pytest.mark.parametrize("option,code", [("--src", "spanish"), ("--src", "e"), ("--tgt", "EN"),
                                         ("--tgt", "es-ES"), ("--src", "e5")])
def test_language_code_must_be_two_or_three_letters(tmp_path, corpus, capsys, option, code):
    langs = {"--src": "es", "--tgt": "en", option: code}
    refused(capsys, tmp_path / "root", "--name", "x", "--src", langs["--src"], "--tgt",
            langs["--tgt"], "--train", corpus["train"], "--split", "5,5",
            patterns=(f"{option} '{code}' is not a language code", "two or three lowercase letters"))


def test_existing_or_reserved_name_refused(tmp_path, corpus, capsys):
    root = tmp_path / "root"
    taken = root / "data-bin" / "mine"
    taken.mkdir(parents=True)
    (taken / "PREPARED").touch()
    args = ["--src", "es", "--tgt", "en", "--train", corpus["train"], "--split", "5,5"]
    refused(capsys, root, "--name", "mine", *args,
            patterns=("a dataset named mine already exists", "choose another --name", "--force"))
    refused(capsys, root, "--name", "ci_deen", *args,
            patterns=("built-in dataset (gpam prepare ci_deen)",))
    refused(capsys, root, "--name", "../up", *args, patterns=("not a usable dataset name",))


def test_missing_or_unreadable_files_refused(tmp_path, corpus, capsys):
    root = tmp_path / "root"
    base = ["--name", "x", "--src", "es", "--tgt", "en"]
    Path(corpus["test"] + ".en").unlink()
    refused(capsys, root, *base, "--train", corpus["train"], "--valid", corpus["valid"],
            "--test", corpus["test"], patterns=("--test:", "test.en does not exist"))
    refused(capsys, root, *base, "--train", corpus["train"] + ".es", "--split", "5,5",
            patterns=("takes the common prefix", f"pass {corpus['train']}"))
    Path(corpus["valid"] + ".en").write_bytes("caf\xe9\n".encode("latin-1") * 30)
    refused(capsys, root, *base, "--train", corpus["train"], "--valid", corpus["valid"],
            "--test", corpus["train"], patterns=("is not UTF-8 text", "iconv"))
    refused(capsys, root, "--name", "x", "--lang", "en", "--train", str(tmp_path / "none.txt"),
            "--split", "0.1,0.1", patterns=("--train:", "none.txt does not exist"))


def test_inconsistent_options_refused(tmp_path, corpus, capsys):
    root = tmp_path / "root"
    base = ["--name", "x", "--train", corpus["train"]]
    refused(capsys, root, *base, "--src", "es", "--tgt", "es", "--split", "5,5",
            patterns=("both 'es'",))
    refused(capsys, root, *base, "--src", "es", "--tgt", "en", "--split", "200,200",
            patterns=("holds out 400 pairs but --train has 300",))
    refused(capsys, root, *base, "--src", "es", "--tgt", "en", "--split", "5,5", "--valid",
            corpus["valid"], patterns=("do not also give --valid",))
    refused(capsys, root, *base, "--src", "es", "--tgt", "en", "--valid", corpus["valid"],
            patterns=("--test missing",))
    refused(capsys, root, *base, "--lang", "en", "--src", "es", "--split", "0.1,0.1",
            patterns=("--lang is for language modelling",))
    refused(capsys, root, *base, "--lang", "en", "--split", "5,5",
            patterns=("shares of the words",))
    refused(capsys, root, *base, "--lang", "en", "--max-words", "50", "--split", "0.1,0.1",
            patterns=("--max-words: for translation pairs only",))
    refused(capsys, root, *base, "--src", "es", "--tgt", "en", "--max-ratio", "0.5", "--split",
            "5,5", patterns=("a length ratio is at least 1",))
    one_doc = tmp_path / "one.txt"
    one_doc.write_text("a few words\nand more\n", encoding="utf-8")
    refused(capsys, root, "--name", "x", "--lang", "en", "--train", one_doc, "--split", "0.1,0.1",
            patterns=("1 document(s)", "at least 3"))
