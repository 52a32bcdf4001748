"""Rows (lists of dicts with the same keys) as a markdown table or as CSV."""

import csv
import io


def to_markdown(rows, columns=None):
    """A markdown table of ``rows`` (its columns: ``columns``, else the first row's keys)."""
    if not rows:
        return "(no runs)\n"
    columns = columns or list(rows[0])
    esc = lambda v: str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(esc(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(rows):
    """CSV text of ``rows`` with a header line, '\\n' line ends ('' for no rows)."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
