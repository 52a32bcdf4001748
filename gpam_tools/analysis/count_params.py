#!/usr/bin/env python
"""Parameter count of every gpam_ architecture next to its fairseq baseline.

Usage: gpam count-params [--arch NAME ...] [--markdown] [--output results/param_counts.md]

Models are built through fairseq's own argument parsing on made-up dictionaries
of each benchmark's vocabulary size, with the embedding sharing of the usual
recipe. daGPAM adds one d_head x d_head matrix W- per attention module (shared by
its heads, the default); Heo & Choi report 0.1% to 0.84% more parameters.
"""

import argparse
import tempfile
from pathlib import Path

from gpam_tools import REPO
from gpam_tools.atomic import write_text_atomic


# (gpam arch, fairseq arch, task, vocabulary size, extra fairseq flags)
PAIRS = [
    ("gpam_transformer_iwslt_de_en", "transformer_iwslt_de_en", "translation", 10_000,
     ["--share-decoder-input-output-embed"]),
    ("gpam_transformer_wmt_en_de", "transformer_wmt_en_de", "translation", 40_000, ["--share-all-embeddings"]),
    ("gpam_transformer_vaswani_wmt_en_de_big", "transformer_vaswani_wmt_en_de_big", "translation", 40_000,
     ["--share-all-embeddings"]),
    ("gpam_transformer_tiny", "transformer_tiny", "translation", 10_000, ["--share-all-embeddings"]),
    ("gpam_transformer_lm", "transformer_lm", "language_modeling", 267_744, ["--share-decoder-input-output-embed"]),
    ("gpam_transformer_lm_wiki103", "transformer_lm_wiki103", "language_modeling", 267_744, []),
    ("gpam_transformer_lm_gpt", "transformer_lm_gpt", "language_modeling", 50_000,
     ["--share-decoder-input-output-embed"]),
]


def build_model(arch: str, task_name: str, vocab: int, extra, data_dir: Path):
    """Build ``arch`` with fairseq's parser on a dictionary of ``vocab`` made-up words."""
    import fairseq_gpam  # noqa: F401  (registers the gpam_ architectures)
    from fairseq import options, tasks
    from fairseq.data import Dictionary

    dictionary = Dictionary()
    for i in range(vocab - len(dictionary)):
        dictionary.add_symbol(f"w{i}")
    names = ["dict.txt"] if task_name == "language_modeling" else ["dict.src.txt", "dict.tgt.txt"]
    for name in names:
        if not (data_dir / name).exists():
            dictionary.save(str(data_dir / name))
    argv = [str(data_dir), "--task", task_name, "--arch", arch, "--user-dir", str(REPO / "fairseq_gpam"), *extra]
    if task_name == "translation":
        argv += ["-s", "src", "-t", "tgt"]
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, argv)
    return tasks.setup_task(args).build_model(args)


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def markdown_table(rows) -> str:
    lines = ["| gpam architecture | baseline | vocabulary | baseline params | daGPAM params | overhead |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]:,} | {r[3]:,} | {r[4]:,} | {r[5]:.3f}% |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpam count-params", description=__doc__.split("\n")[0])
    parser.add_argument("--arch", nargs="*", help="gpam_ architectures to count (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--output", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    known = {p[0]: p for p in PAIRS}
    selected = args.arch or list(known)
    unknown = [a for a in selected if a not in known]
    if unknown:
        parser.error(f"unknown architecture(s) {', '.join(unknown)}; choose from: {', '.join(known)}")

    rows = []
    for gpam_arch in selected:
        _, base_arch, task_name, vocab, extra = known[gpam_arch]
        with tempfile.TemporaryDirectory() as tmp:
            base = count(build_model(base_arch, task_name, vocab, extra, Path(tmp)))
            gpam = count(build_model(gpam_arch, task_name, vocab, extra, Path(tmp)))
        rows.append((gpam_arch, base_arch, vocab, base, gpam, 100.0 * (gpam - base) / base))

    table = markdown_table(rows)
    if args.markdown:
        print(table, end="")
    else:
        print(f"{'gpam architecture':42s} {'baseline params':>16s} {'daGPAM params':>15s} {'overhead':>9s}")
        for r in rows:
            print(f"{r[0]:42s} {r[3]:16,d} {r[4]:15,d} {r[5]:8.3f}%")
    if args.output:
        write_text_atomic(args.output, "# Parameter counts\n\nProduced by `gpam count-params --output "
                     f"{args.output}`. Vocabulary sizes are those of each benchmark's usual recipe "
                     "(made-up words; only the count matters).\n\n" + table)
    return 0

