"""The cheapest of the full-size dry runs (scripts/dry_run_fullsize.sh): the paper's IWSLT
configuration, transformer_iwslt_de_en pre-LN, baseline and daGPAM, 3 updates on a fixture in
the benchmark's binarised format. The others (IWSLT post-LN, WMT base and big, transformer_lm and
the 8-layer LM) run the same code path with larger models: `scripts/dry_run_fullsize.sh`."""

import re

from standin_data import run_script

D_HEAD = 512 // 4          # transformer_iwslt_de_en: d=512, 4 heads
MODULES = 6 + 6 + 6        # encoder self, decoder self, encoder-decoder attention in 6+6 layers


def test_iwslt_full_size_pre_ln_dry_run(tmp_path):
    proc = run_script("scripts/dry_run_fullsize.sh", "--only", "iwslt-pre", "--work", tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    params = dict(re.findall(r"iwslt-pre (\w+) ok \(([\d,]+) parameters\)", proc.stdout))
    assert set(params) == {"softmax", "dagpam"}, proc.stdout
    softmax, dagpam = (int(params[k].replace(",", "")) for k in ("softmax", "dagpam"))
    assert softmax > 30_000_000  # the full-size model, not a scaled-down one
    # daGPAM adds exactly one d_head x d_head matrix W- per attention module (shared by its heads)
    assert dagpam - softmax == MODULES * D_HEAD * D_HEAD
    for attention in ("softmax", "dagpam"):
        log = (tmp_path / f"iwslt-pre-{attention}.log").read_text()
        assert "encoder_normalize_before=True" in log or "'encoder_normalize_before': True" in log
        assert '"train_num_updates": "3"' in log
    # a dry run writes no checkpoint
    assert not list(tmp_path.rglob("*.pt"))
