"""The README and docs/ hold only what is true: every command they show exists, every link resolves,
the findings table's figures are in the generated summary, and the committed evaluation files keep
their counts as integers that agree with the training logs. Cheap: nothing is trained or run."""

import json
import re
from pathlib import Path

import pytest

from gpam_tools.cli import COMMANDS
from gpam_tools.collect.logs import parse_train_log
from gpam_tools.collect.paper import PAPER
from gpam_tools.study.runner import available

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "results" / "README.md"]


def commands(text: str):
    """Every ``gpam WORD`` in the text's code (fenced blocks and inline code)."""
    code = re.findall(r"```.*?```", text, flags=re.S) + re.findall(r"`([^`\n]+)`", text)
    return re.findall(r"(?:^|[\s(&;|])gpam ([a-z][a-z-]*)", "\n".join(code), flags=re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_gpam_command_shown_exists(page):
    text = page.read_text(encoding="utf-8")
    for name in commands(text):
        assert name in COMMANDS, f"{page.name} shows `gpam {name}`, which gpam_tools/cli.py does not have"
    for study in re.findall(r"gpam study ([a-z][a-z-]*)", text):
        assert study in available(), f"{page.name} shows `gpam study {study}`, which gpam_tools/study/specs/ lacks"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_every_make_target_shown_exists():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for page in PAGES:
        for target in re.findall(r"\bmake ([a-z][a-z-]*)", page.read_text(encoding="utf-8")):
            assert re.search(rf"^{target}:", makefile, flags=re.M), f"{page.name} shows `make {target}`"


def test_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 210
    for history in ("session", "commit ", "last run"):
        assert history not in text.lower(), f"README narrates history: '{history}'"


def test_findings_table_figures_come_from_the_generated_summary():
    """Each row of the README's findings table: our figures are those of one row of the generated summary
    of the same setting and metric, and the paper's are the collector's own record of them."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## What this project found", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| setting")]
    assert len(rows) >= 2
    summary = (REPO / "results" / "comparison" / "summary.md").read_text(encoding="utf-8").splitlines()
    paper_figures = {f"{row[k]:.2f}" for row in PAPER for k in ("softmax", "dagpam")}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ours = re.findall(r"[+-]?\d+\.\d+", " ".join(cells[3:6]))
        metric = cells[1].split(" (")[0].replace("detokenised ", "")
        matching = [line for line in summary if f"| {metric} |" in line and "dagpam-fixed0.2" in line
                    and all(figure in line for figure in ours)]
        assert matching, f"README figures {ours} ({metric}) are not one row of results/comparison/summary.md"
        for figure in re.findall(r"\d+\.\d+", cells[2]):
            assert figure in paper_figures, f"paper figure {figure} is not in gpam_tools/collect/paper.py"


@pytest.mark.parametrize("path", sorted((REPO / "results").rglob("eval-*.json")),
                         ids=lambda p: p.relative_to(REPO / "results").as_posix())
def test_committed_evaluations_count_as_the_training_log_does(path):
    result = json.loads(path.read_text(encoding="utf-8"))
    log = parse_train_log(path.parent / "train.log")
    assert isinstance(result["params"], int) and isinstance(result["updates"], int)
    assert result["params"] == log["params"]
    assert log["updates"] in (None, result["updates"])
