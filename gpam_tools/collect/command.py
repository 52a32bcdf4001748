"""gpam collect: the tables and plots of a results directory, rebuilt from its kept runs.

    gpam collect RUNS_DIR [RUNS_DIR ...] --out OUT_DIR [--refs DIR] [--title T] [--note-file F]

Reads every run under the roots (``reading``: run-info.json, train.log, eval-*.json, hypotheses) and
writes summary.md/.csv, one .md/.csv/.runs.csv per benchmark and the validation-loss plots (``report``).
A root in the first alternatives study's layout (``<variant>/seed<k>/result.json``, no run-info.json)
gets that study's table instead (``variant_table``). Every number comes from the files read.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from gpam_tools.collect.reading import read_runs
from gpam_tools.collect.render import to_markdown
from gpam_tools.collect.report import PRINTED_COLUMNS, NoRuns, collect
from gpam_tools.collect.variant_table import result_files, write_variant_table


def error(message: str) -> int:
    print(f"gpam collect: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpam collect", description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="directories holding kept runs")
    parser.add_argument("--out", type=Path, required=True, help="where the tables and plots go")
    parser.add_argument("--refs", type=Path, action="append", default=[],
                        help="directory with <dataset>.test.raw.<lang> references (for the bootstrap)")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--note", default="", help="text put under the title (e.g. the scale of a demo)")
    parser.add_argument("--note-file", type=Path, help="the same, read from a file")
    args = parser.parse_args(argv)
    for root in args.roots:
        if not root.is_dir():
            return error(f"{root} is not a directory; pass the directory that holds the runs")
    if args.note_file and not args.note_file.is_file():
        return error(f"--note-file {args.note_file} does not exist; pass the note's file or leave the option out")
    note = args.note_file.read_text(encoding="utf-8") if args.note_file else args.note
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=args.out, prefix=".write-check.")
        probe.close()
    except OSError as failure:
        return error(f"cannot write the tables into --out {args.out}: {failure.strerror}; "
                     f"pass a writable directory (nothing was written)")
    if len(args.roots) == 1 and result_files(args.roots[0]) and not read_runs(args.roots):
        print(write_variant_table(args.roots[0], args.out))
        return 0
    try:
        summary, _ = collect(args.roots, args.out, args.refs, args.title, note)
    except NoRuns as failure:
        return error(str(failure))
    print(to_markdown(summary, PRINTED_COLUMNS))
    return 0
