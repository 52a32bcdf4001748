"""Line-exact text file I/O shared by the helpers.

Parallel corpora stay aligned only if every tool agrees on what a line is. Python's
universal newlines and ``str.splitlines`` also break lines at \\r, \\x0b, \\x1c-\\x1e, \\x85,
\\u2028 and \\u2029, so files are read split on "\\n" only, and any of those characters is written
as a space, so that later readers (fairseq-preprocess included) see the same lines.
"""

import re
from typing import Iterable, List

from gpam_tools.atomic import write_text_atomic

from .errors import PrepError

_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def clean_line(line: str) -> str:
    return _LINE_BREAKS.sub(" ", line)


def read_lines(path: str) -> List[str]:
    """The lines of a UTF-8 text file, split on "\\n" only (no line-end characters kept)."""
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise PrepError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason}): convert it, e.g. "
                        f"iconv -f LATIN1 -t UTF-8 {path} > {path}.utf8, and pass that file")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def write_lines(path: str, lines: Iterable[str]) -> int:
    """Write ``lines`` (one per line) to ``path`` atomically; returns their number."""
    cleaned = [clean_line(line) + "\n" for line in lines]
    write_text_atomic(path, "".join(cleaned))
    return len(cleaned)
