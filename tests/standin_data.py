"""A stand-in for ``data-prep/`` in the scripts' tests: builds a dataset in the
layout of the data contract (``$DATA_ROOT/text/<name>``, ``$DATA_ROOT/data-bin/<name>``
with ``prep-info.json`` and ``PREPARED``) from the text shipped in
``data-prep/corpora``.

It is deliberately simpler than the real data-prep (sentencepiece BPE for
translation, whitespace words for language modelling) and exists so that the
scripts can be tested against the contract alone. Usable as a command too::

    python tests/standin_data.py ci_deen --data-root work/ --vocab 2000
"""

import argparse
import contextlib
import fcntl
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO / "data-prep" / "corpora"
SPLITS = ("train", "valid", "test")


def _read_lines(path: Path, limit=None):
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    return lines[:limit] if limit else lines


def _write_lines(path: Path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _binarise(text_dir: Path, bin_dir: Path, langs, workers=1):
    cmd = [str(Path(sys.executable).parent / "fairseq-preprocess"), "--destdir", str(bin_dir), "--workers", str(workers)]
    if len(langs) == 2:
        cmd += ["--source-lang", langs[0], "--target-lang", langs[1], "--joined-dictionary"]
        prefix = ""
    else:
        cmd += ["--only-source", "--thresholdsrc", "2"]
        prefix = ".txt"
    for split in SPLITS:
        cmd += [f"--{'train' if split == 'train' else split}pref", str(text_dir / split) + prefix]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def prepare_translation(name, raw_dir: Path, data_root: Path, vocab: int, langs=("de", "en"), limit=None,
                        eval_limit=None):
    """Joint sentencepiece BPE over both languages, then fairseq-preprocess."""
    import sentencepiece as spm

    raw = {
        (split, lang): _read_lines(next(raw_dir.glob(f"{split}.{lang}*")), limit if split == "train" else eval_limit)
        for split in SPLITS
        for lang in langs
    }
    with tempfile.TemporaryDirectory(dir=data_root) as tmp:
        tmp = Path(tmp)
        joined = tmp / "joined.txt"
        _write_lines(joined, raw[("train", langs[0])] + raw[("train", langs[1])])
        spm.SentencePieceTrainer.train(
            input=str(joined), model_prefix=str(tmp / "spm"), vocab_size=vocab, model_type="bpe",
            character_coverage=1.0, num_threads=2, minloglevel=2,
        )
        sp = spm.SentencePieceProcessor(model_file=str(tmp / "spm.model"))
        text = tmp / "text"
        for (split, lang), lines in raw.items():
            _write_lines(text / f"{split}.{lang}", [" ".join(sp.encode(l, out_type=str)) for l in lines])
        for lang in langs:
            _write_lines(text / f"test.raw.{lang}", raw[("test", lang)])
        shutil.copy(tmp / "spm.model", text / "spm.model")
        bin_dir = tmp / "bin"
        _binarise(text, bin_dir, langs)
        info = {
            "dataset": name, "task": "translation", "langs": list(langs), "tokenizer": "none",
            "bpe": {"type": "sentencepiece", "vocab_size": vocab},
            "lines": {split: len(raw[(split, langs[0])]) for split in SPLITS},
            "source": f"stand-in of tests/standin_data.py from {raw_dir}",
        }
        _install(name, text, bin_dir, info, data_root)


def prepare_lm(name, raw_dir: Path, data_root: Path, limit=None):
    """Whitespace words (the text is WikiText-tokenised already), then fairseq-preprocess."""
    with tempfile.TemporaryDirectory(dir=data_root) as tmp:
        tmp = Path(tmp)
        text = tmp / "text"
        lines = {}
        for split in SPLITS:
            lines[split] = _read_lines(raw_dir / f"wiki.{split}.tokens", limit if split == "train" else None)
            _write_lines(text / f"{split}.txt", lines[split])
        bin_dir = tmp / "bin"
        _binarise(text, bin_dir, ())
        info = {
            "dataset": name, "task": "language_modeling", "langs": ["en"], "tokenizer": "wikitext",
            "bpe": None, "lines": {s: len(v) for s, v in lines.items()},
            "source": f"stand-in of tests/standin_data.py from {raw_dir}",
        }
        _install(name, text, bin_dir, info, data_root)


def _install(name, text, bin_dir, info, data_root: Path):
    (bin_dir / "prep-info.json").write_text(json.dumps(info, indent=2) + "\n")
    (bin_dir / "PREPARED").touch()
    for kind, src in (("text", text), ("data-bin", bin_dir)):
        dest = data_root / kind / name
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)


def prepare(name, data_root, vocab=2000, limit=None, raw_dir=None, eval_limit=None):
    """Prepare ``name`` under ``data_root``; return its data-bin dir. Translation names (ci_deen,
    deen_docs, and iwslt14.de-en / wmt14.en-de as fixtures in those benchmarks' format) take the
    German-English sample text, the others the WikiText-layout sample text."""
    data_root = Path(data_root)
    data_root.mkdir(parents=True, exist_ok=True)
    if name in ("ci_deen", "deen_docs", "iwslt14.de-en", "wmt14.en-de") or (
        raw_dir and list(Path(raw_dir).glob("train.de*"))
    ):
        default = CORPORA / ("ci_deen" if name == "ci_deen" else "deen-debian-docs")
        langs = ("en", "de") if name.startswith("wmt14.en-de") else ("de", "en")
        prepare_translation(name, Path(raw_dir or default), data_root, vocab, langs=langs, limit=limit,
                            eval_limit=eval_limit)
    else:
        prepare_lm(name, Path(raw_dir or CORPORA / "ci_lm"), data_root, limit=limit)
    return data_root / "data-bin" / name


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--data-root", default=str(REPO / "work"))
    parser.add_argument("--vocab", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=None, help="keep the first N training lines")
    args = parser.parse_args()
    print(prepare(args.name, args.data_root, args.vocab, args.limit), file=sys.stderr)


# ---------------------------------------------------------------- helpers for the scripts' tests

def script_env(**extra) -> dict:
    """Environment for running the repo's scripts: this checkout's plugin, this Python's tools."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "2")
    env.pop("DATA_ROOT", None)
    env.pop("SAVE_ROOT", None)
    env.update(extra)
    return env


def run_script(*args, timeout=600, **extra_env) -> subprocess.CompletedProcess:
    """Run ``bash scripts/<name> args...`` (or python for .py) and capture its output."""
    script = REPO / args[0]
    cmd = [sys.executable if script.suffix == ".py" else "bash", str(script), *map(str, args[1:])]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=script_env(**extra_env))


def run_gpam(*args, timeout=600, cwd=None, **extra_env) -> subprocess.CompletedProcess:
    """Run ``gpam COMMAND args...`` (as ``python -m gpam_tools``) with this checkout and capture its output."""
    cmd = [sys.executable, "-m", "gpam_tools", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO,
                          env=script_env(**extra_env))


def tree_snapshot(root: Path) -> dict:
    """{relative path: (size, mtime_ns)} of every file under ``root``: to show nothing changed."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


@contextlib.contextmanager
def held_lock(path: Path):
    """Hold the flock(2) lock the scripts take on ``path`` (as a second run of a script would)."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
