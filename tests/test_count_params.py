"""gpam count-params (gpam_tools.analysis.count_params) reports the parameters daGPAM adds: one d_head x d_head W- per module."""

import pytest

from gpam_tools.analysis import count_params


def load_script():
    return count_params


def test_overhead_is_one_head_matrix_per_attention_module(tmp_path, capsys):
    script = load_script()
    out = tmp_path / "counts.md"
    assert script.main(["--arch", "gpam_transformer_tiny", "--output", str(out)]) == 0
    row = [line for line in out.read_text().splitlines() if line.startswith("| gpam_transformer_tiny")][0]
    cells = [c.strip() for c in row.strip("|").split("|")]
    base, gpam = int(cells[3].replace(",", "")), int(cells[4].replace(",", ""))
    # transformer_tiny: width 64, 2 heads (d_head 32), 2+2 layers -> 6 attention modules
    assert gpam - base == 6 * 32 * 32
    assert cells[5] == f"{100 * (gpam - base) / base:.3f}%"


def test_unknown_architecture_is_refused_with_the_choices(capsys):
    script = load_script()
    with pytest.raises(SystemExit) as exit:
        script.main(["--arch", "gpam_transformer_huge"])
    assert exit.value.code == 2
    assert "gpam_transformer_iwslt_de_en" in capsys.readouterr().err
