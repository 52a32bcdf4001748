"""Helpers of the data-preparation tests: running ``gpam prepare``, checking the data contract,
and tiny fixture archives in each benchmark's published layout.

Each fixture is built at test time from a few real sentences of the shipped corpora, packed the
way the published archive is (IWSLT14 de-en.tgz, the five WMT archives, wikitext-103-v1.zip,
PTB's simple-examples.tgz), and handed over with --archive / --archive-dir. Fixtures cannot
match the pinned checksums of the real archives, so the tests pin theirs with --sha256 (the
same verification path). Downloads are pointed at a closed local proxy port, so the
"no internet" path is exercised the same way on any machine.
"""

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
DATA_PREP = REPO / "data-prep"
CORPORA = DATA_PREP / "corpora"
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused


# ---------------------------------------------------------------- running gpam prepare
def prep_env() -> Dict[str, str]:
    """The environment of a preparation in a test: no DATA_ROOT, downloads to a closed port."""
    env = dict(os.environ)
    env["PYTHON"] = sys.executable
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[key] = DEAD_PROXY
    for key in ("no_proxy", "NO_PROXY", "DATA_ROOT"):
        env.pop(key, None)
    return env


def prepare_command(name: str, *args: str, root: Path) -> List[str]:
    return [sys.executable, "-m", "gpam_tools", "prepare", name, *args, "--data-root", str(root),
            "--workers", "1"]


def run(name: str, *args: str, root: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``gpam prepare NAME args`` with --data-root root; stdout and stderr merged in .out."""
    cmd = prepare_command(name, *args, root=root)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=prep_env())
    proc.out = proc.stdout
    return proc


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.out[-3000:]
    return proc


def failed(proc: subprocess.CompletedProcess, *patterns: str) -> str:
    assert proc.returncode == 2, proc.out[-3000:]
    for pattern in patterns:
        assert re.search(pattern, proc.out), f"no /{pattern}/ in:\n{proc.out[-3000:]}"
    return proc.out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lines(path: Path) -> List[str]:
    """The lines of a text file, split on "\n" only (as the data-prep helpers do)."""
    content = path.read_text(encoding="utf-8").split("\n")
    return content[:-1] if content[-1] == "" else content


def snapshot(root: Path) -> Dict[str, tuple]:
    """Every file under text/ and data-bin/ with its content hash and mtime."""
    out = {}
    for sub in ("text", "data-bin"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = (sha256(p), p.stat().st_mtime_ns)
    return out


def assert_contract(root: Path, dataset: str, task: str) -> dict:
    """The data contract: published dirs, PREPARED, prep-info.json, no staging leftovers."""
    text, binary = root / "text" / dataset, root / "data-bin" / dataset
    assert (binary / "PREPARED").is_file() and (binary / "PREPARED").stat().st_size == 0
    info = json.loads((binary / "prep-info.json").read_text())
    assert info["dataset"] == dataset and info["task"] == task
    leftovers = [p.name for sub in ("text", "data-bin") for p in (root / sub).iterdir()
                 if p.name.startswith(".")] + [p.name for p in (root / "tmp").iterdir()
                                               if not p.name.startswith(".lock")]
    assert leftovers == [], leftovers
    if task == "language_modeling":
        for split in ("train", "valid", "test"):
            assert info["lines"][split] == len(lines(text / f"{split}.txt"))
            assert (binary / f"{split}.bin").is_file()
    else:
        src, tgt = info["langs"]
        for split in ("train", "valid", "test"):
            for lang in (src, tgt):
                assert info["lines"][split][lang] == len(lines(text / f"{split}.{lang}")) > 0
                assert (binary / f"{split}.{src}-{tgt}.{lang}.bin").is_file()
            assert info["lines"][split][src] == info["lines"][split][tgt]
        for lang in (src, tgt):
            assert len(lines(text / f"test.raw.{lang}")) == info["lines"]["test"][lang]
    assert (binary / "dict.txt").is_file() or (binary / f"dict.{info['langs'][0]}.txt").is_file()
    return info


def binarised_sizes(binary: Path, prefix: str, dict_name: str) -> int:
    """Number of sentences fairseq reads back from a binarised split."""
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(binary / dict_name))
    dataset = data_utils.load_indexed_dataset(str(binary / prefix), dictionary)
    return len(dataset)


def unbpe(line: str) -> str:
    return (line + " ").replace("@@ ", "").rstrip()


# ---------------------------------------------------------------- fixture archives
def corpus(name: str) -> List[str]:
    return lines(CORPORA / "ci_deen" / name)


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode("utf-8")
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _ted_tags(sentences: List[str], lang: str) -> str:
    """train.tags layout: per talk, metadata lines then one transcript sentence a line."""
    out = []
    for talk, start in enumerate(range(0, len(sentences), 60)):
        out += [f"<url>http://www.ted.com/talks/talk_{talk}.html</url>",
                "<keywords>talks, technology</keywords>", f"<talkid>{talk}</talkid>", f"<title>Talk {talk} ({lang})</title>",
                f"<description>TED Talk Subtitles and Transcript: talk {talk}</description>"]
        out += sentences[start:start + 60]
    return "\n".join(out) + "\n"


def _mteval(sentences: List[str], setid: str, lang: str) -> str:
    segs = "\n".join(f'<seg id="{i}"> {s} </seg>' for i, s in enumerate(sentences, 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<mteval>\n<srcset setid="{setid}" '
            f'srclang="{lang}">\n<doc docid="1" genre="lectures">\n<url>http://www.ted.com</url>\n'
            f"<title>Talk</title>\n{segs}\n</doc>\n</srcset>\n</mteval>\n")


IWSLT_TEST_SETS = ("TED.dev2010", "TEDX.dev2012", "TED.tst2010", "TED.tst2011", "TED.tst2012")


def make_iwslt14(path: Path, pair: str = "de-en", n_train: int = 240, n_test: int = 12) -> dict:
    de, en = corpus("train.de"), corpus("train.en")
    a, b = pair.split("-")
    side = {a: de, b: en}
    with tarfile.open(path, "w:gz") as tar:
        for lang in (a, b):
            _add(tar, f"{pair}/train.tags.{pair}.{lang}", _ted_tags(side[lang][:n_train], lang))
            for k, name in enumerate(IWSLT_TEST_SETS):
                start = n_train + k * n_test
                _add(tar, f"{pair}/IWSLT14.{name}.{pair}.{lang}.xml",
                     _mteval(side[lang][start:start + n_test], name, lang))
    test = {lang: [s for k in range(5) for s in
                   side[lang][n_train + k * n_test: n_train + (k + 1) * n_test]] for lang in (a, b)}
    return {"test": test, "n_train": n_train}


def _sgm(sentences: List[str], lang: str) -> str:
    segs = "\n".join(f'<seg id="{i}">{s}</seg>' for i, s in enumerate(sentences, 1))
    return f'<srcset setid="newstest" srclang="any">\n<doc sysid="ref" docid="1" genre="news" origlang="{lang}">\n{segs}\n</doc>\n</srcset>\n'


def make_wmt14(directory: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    de, en = corpus("train.de"), corpus("train.en")
    chunks = {"training-parallel-europarl-v7.tgz": ("training/europarl-v7.de-en.{}", 0, 100),
              "training-parallel-commoncrawl.tgz": ("commoncrawl.de-en.{}", 100, 180),
              "training-parallel-nc-v12.tgz": ("training/news-commentary-v12.de-en.{}", 180, 260)}
    for archive, (pattern, start, end) in chunks.items():
        with tarfile.open(directory / archive, "w:gz") as tar:
            _add(tar, pattern.format("de"), "\n".join(de[start:end]) + "\n")
            _add(tar, pattern.format("en"), "\n".join(en[start:end]) + "\n")
    valid = {"de": de[260:290], "en": en[260:290]}
    test = {"de": de[290:330], "en": en[290:330]}
    with tarfile.open(directory / "test.tgz", "w:gz") as tar:
        for lang in ("de", "en"):
            _add(tar, f"test/newstest2013-src.{lang}.sgm", _sgm(valid[lang], lang))
    with tarfile.open(directory / "test-full.tgz", "w:gz") as tar:
        _add(tar, "test-full/newstest2014-deen-src.en.sgm", _sgm(test["en"], "en"))
        _add(tar, "test-full/newstest2014-deen-ref.de.sgm", _sgm(test["de"], "de"))
        _add(tar, "test-full/newstest2014-deen-src.de.sgm", _sgm(test["de"], "de"))
    return {"valid": valid, "test": test, "train": 260}


def make_wikitext103(path: Path) -> Dict[str, List[str]]:
    text = {split: lines(CORPORA / "ci_lm" / f"wiki.{split}.tokens")[:40]
            for split in ("train", "valid", "test")}
    with zipfile.ZipFile(path, "w") as z:
        for split, content in text.items():
            z.writestr(f"wikitext-103/wiki.{split}.tokens", "\n".join(content) + "\n")
    return text


def _ptb_style(sentence: str) -> str:
    words = re.sub(r"[^a-z0-9' ]", " ", sentence.lower()).split()
    return " " + " ".join(words) + " "


def make_ptb(path: Path) -> Dict[str, List[str]]:
    en = corpus("train.en")
    text = {"train": [_ptb_style(s) for s in en[:150]],
            "valid": [_ptb_style(s) for s in en[150:170]],
            "test": [_ptb_style(s) for s in en[170:190]]}
    with tarfile.open(path, "w:gz") as tar:
        for split, content in text.items():
            _add(tar, f"./simple-examples/data/ptb.{split}.txt", "\n".join(content) + "\n")
        _add(tar, "./simple-examples/README", "fixture\n")
    return text
