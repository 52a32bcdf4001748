"""``gpam prepare NAME [options]``: build a dataset under the data contract.

    $DATA_ROOT/text/<NAME>/      tokenised (+subword) text, test.raw.<lang> references
    $DATA_ROOT/data-bin/<NAME>/  fairseq-preprocess output, prep-info.json, PREPARED (last)

NAME is a benchmark (downloaded, or handed over with --archive), a corpus shipped in the repo,
or ``custom`` for your own corpus (``gpam prepare custom --help``). A dataset already prepared
is left alone (--force rebuilds it); bad input exits with status 2 and ``ERROR: <problem and
fix>`` before anything is written.
"""

import argparse
import os
import shlex
import sys
from typing import List, Optional

from gpam_tools.run.datasets import default_data_root

from . import run
from .catalogue import CATALOGUE, Recipe
from .errors import PrepError
from .subword import METHODS

# option group -> (option: dest), and the refusal when a recipe does not take that group
GROUPS = {
    "download": {"--archive": "archive", "--archive-dir": "archive_dir", "--sha256": "sha256",
                 "--allow-unverified": "allow_unverified", "--offline": "offline",
                 "--timeout": "timeout"},
    "bpe": {"--bpe": "bpe", "--bpe-size": "bpe_size"},
    "pair": {"--pair": "pair"},
}
REFUSAL = {
    "download": "{opt}: {name} is built from files shipped in the repo; nothing is downloaded",
    "bpe": "{opt}: {name} is word-level; it takes no BPE options",
    "pair": "{opt}: {name} is a language-modelling corpus (one language, no pair)",
}


def overview() -> str:
    width = max(len(n) for n in CATALOGUE)
    lines = ["usage: gpam prepare NAME [options]   (gpam prepare NAME --help: its options)", ""]
    for kind, title in (("benchmark", "benchmarks (downloaded, or --archive):"),
                        ("shipped", "shipped in the repo (offline):")):
        lines.append(title)
        lines += [f"  {r.name:<{width}}  {r.summary}" for r in CATALOGUE.values() if r.kind == kind]
    lines += ["your own corpus:", f"  {'custom':<{width}}  translation or language modelling "
              "from your text files (gpam prepare custom --help)"]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got '{text}'")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got '{text}'")
    return value


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--data-root", metavar="DIR",
                   help="where text/ and data-bin/ go (default: $DATA_ROOT, else <repo>/work)")
    g.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="processes for tokenisation, subwords and binarisation (default: all cores)")
    g.add_argument("--force", action="store_true", help="rebuild even if already prepared")


def recipe_parser(recipe: Recipe) -> argparse.ArgumentParser:
    """The options of ``gpam prepare <recipe>``; groups it does not take are hidden (and
    refused by :func:`check_options` with a message saying why)."""
    p = argparse.ArgumentParser(prog=f"gpam prepare {recipe.name}", description=recipe.summary)

    def shown(group: str, text: str) -> str:
        return text if group in recipe.accepts else argparse.SUPPRESS

    g = p.add_argument_group("data")
    g.add_argument("--archive", action="append", metavar="FILE",
                   help=shown("download", "use a local copy of a file instead of downloading it "
                                          "(keep its published name; repeatable)"))
    g.add_argument("--archive-dir", metavar="DIR",
                   help=shown("download", "look for the files, under their published names, in DIR"))
    g.add_argument("--sha256", action="append", metavar="[NAME=]HEX",
                   help=shown("download", "expected SHA-256 of a file (pins a file that has no "
                                          "published checksum, or overrides the pin; repeatable)"))
    g.add_argument("--allow-unverified", action="store_true", default=None,
                   help=shown("download", "use files that have no published checksum without a "
                                          "--sha256 pin (recorded in prep-info.json)"))
    g.add_argument("--offline", action="store_true", default=None,
                   help=shown("download", "never download"))
    g.add_argument("--timeout", type=seconds, metavar="S",
                   help=shown("download", "download connect/read timeout (default 10)"))
    g = p.add_argument_group("recipe")
    g.add_argument("--bpe", metavar="METHOD",
                   help=shown("bpe", "subword_nmt (fairseq's recipes, default) or sentencepiece"))
    g.add_argument("--bpe-size", type=positive_int, metavar="N",
                   help=shown("bpe", f"merges or pieces (default {recipe.bpe_size})"))
    pair = "-".join(recipe.langs)
    g.add_argument("--pair", metavar="SRC-TGT",
                   help=shown("pair", f"{pair} or {'-'.join(reversed(recipe.langs))}: only checked, "
                                      "the binarised data serves both directions"))
    add_run_options(p)
    return p


def check_options(recipe: Recipe, a: argparse.Namespace) -> None:
    """Refuse option groups the recipe does not take, then fill in the defaults."""
    for group, options in GROUPS.items():
        if group in recipe.accepts:
            continue
        for opt, dest in options.items():
            if getattr(a, dest) is not None:
                raise PrepError(REFUSAL[group].format(opt=opt, name=recipe.name))
    a.archive, a.sha256 = a.archive or [], a.sha256 or []
    a.allow_unverified, a.offline = bool(a.allow_unverified), bool(a.offline)
    a.timeout = 10.0 if a.timeout is None else a.timeout
    a.bpe = a.bpe or "subword_nmt"
    if a.bpe not in METHODS:
        raise PrepError(f"--bpe '{a.bpe}' is not supported: choose subword_nmt (fairseq's recipe) "
                        "or sentencepiece")
    a.bpe_size = a.bpe_size or recipe.bpe_size
    src, tgt = recipe.langs[0], recipe.langs[-1]
    if a.pair and a.pair not in (f"{src}-{tgt}", f"{tgt}-{src}"):
        raise PrepError(f"--pair {a.pair} does not match {recipe.name}, which is {src}-{tgt} (one "
                        "binarised directory serves both directions: train with --src/--tgt in "
                        "either order); a corpus in another pair is prepared with gpam prepare "
                        "custom --name NAME --src .. --tgt ..")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    if not argv or argv[0] in ("-h", "--help"):
        print(overview(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    try:
        if name == "custom":
            from . import custom_cli

            return custom_cli.main(rest)
        if name not in CATALOGUE:
            print(overview(), file=sys.stderr)
            raise PrepError(f"unknown dataset '{name}': choose one of {', '.join(CATALOGUE)}, or "
                            "custom for your own corpus")
        recipe = CATALOGUE[name]
        a = recipe_parser(recipe).parse_args(rest)
        check_options(recipe, a)
        return run.prepare(dataset=recipe.name, kind=recipe.kind, task=recipe.task,
                           full_model=recipe.full_model,
                           data_root=a.data_root or str(default_data_root()), force=a.force,
                           command=shlex.join(["gpam", "prepare", *argv]), build=recipe.build,
                           options=a)
    except PrepError as e:
        if not getattr(e, "logged", False):
            print(f"ERROR: {e}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was published (the staging directories are removed)",
              file=sys.stderr)
        return 130
