"""Line-exact text file I/O shared by the helpers.

Parallel corpora stay aligned only if every tool agrees on what a line is. Python's
universal newlines and ``str.splitlines`` also break lines at \\r, \\x0b, \\x1c-\\x1e, \\x85,
\\u2028 and \\u2029, so files are read split on "\\n" only, and any of those characters is written
as a space, so that later readers (fairseq-preprocess included) see the same lines.
"""

import os
import re
from typing import Iterable, List

_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def clean_line(line: str) -> str:
    return _LINE_BREAKS.sub(" ", line)


def read_lines(path: str) -> List[str]:
    with open(path, encoding="utf-8", newline="\n") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def write_lines(path: str, lines: Iterable[str]) -> int:
    """Write ``lines`` (one per line) to ``path`` atomically (via ``path.part``); returns count."""
    tmp = path + ".part"
    n = 0
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(clean_line(line) + "\n")
            n += 1
    os.replace(tmp, path)
    return n
