"""gpam analyze and gpam depth-study (gpam_tools.analysis; the alternatives table: tests/test_alternatives_study.py)."""

import math
from pathlib import Path

import pytest
import torch
from fairseq import options, tasks
from fairseq.data import indexed_dataset

from conftest import PLUGIN_DIR, make_dictionary


from gpam_tools.analysis import depth_study as depth
from gpam_tools.analysis import per_layer as analyze


def write_lm_data(data_dir: Path, sentences=12, seed=0) -> None:
    """A binarised language-modelling directory: dict.txt and a test split of random sentences."""
    data_dir.mkdir(parents=True, exist_ok=True)
    d = make_dictionary()
    d.save(str(data_dir / "dict.txt"))
    g = torch.Generator().manual_seed(seed)
    builder = indexed_dataset.make_builder(str(data_dir / "test.bin"), impl="mmap", vocab_size=len(d))
    for _ in range(sentences):
        length = int(torch.randint(5, 12, (1,), generator=g))
        tokens = torch.cat([torch.randint(4, len(d), (length,), generator=g), torch.tensor([d.eos()])])
        builder.add_item(tokens.int())
    builder.finalize(str(data_dir / "test.idx"))


def save_lm_checkpoint(data_dir: Path, path: Path, variant: str, layers=3, seed=0) -> None:
    """A checkpoint of a tiny gpam_transformer_lm, in fairseq's argparse layout."""
    parser = options.get_training_parser()
    argv = [str(data_dir), "--task", "language_modeling", "--arch", "gpam_transformer_lm_tiny",
            "--user-dir", str(PLUGIN_DIR), "--dropout", "0", "--tokens-per-sample", "16",
            "--decoder-layers", str(layers), "--gpam-attention", variant, "--seed", str(seed)]
    args = options.parse_args_and_arch(parser, argv)
    torch.manual_seed(seed)
    model = tasks.setup_task(args).build_model(args)
    state = {"args": args, "model": model.state_dict(), "extra_state": {},
             "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam",
                                    "lr_scheduler_state": {}, "num_updates": 0}]}
    torch.save(state, path)


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("lm") / "bin"
    write_lm_data(data)
    for variant in ("softmax", "dagpam", "diff"):
        save_lm_checkpoint(data, data.parent / f"{variant}.pt", variant)
    return data


def test_per_layer_metrics_on_lm_checkpoints(lm_dir, tmp_path):
    out = tmp_path / "out"
    analyze.main([
        "--data", str(lm_dir), "--split", "test", "--max-tokens", "64", "--max-batches", "2",
        "--checkpoint", str(lm_dir.parent / "softmax.pt"), "--label", "softmax",
        "--checkpoint", str(lm_dir.parent / "dagpam.pt"), "--label", "dagpam",
        "--checkpoint", str(lm_dir.parent / "diff.pt"), "--label", "diff",
        "--out", str(out), "--prefix", "t", "--note", "tiny test",
    ])
    rows = [line.split(",") for line in (out / "t.csv").read_text().splitlines()[1:]]
    assert {r[0] for r in rows} == {"softmax", "dagpam", "diff"}
    for label in ("softmax", "dagpam", "diff"):
        layers = [r for r in rows if r[0] == label]
        assert [int(r[2]) for r in layers] == [0, 1, 2, 3]  # input + 3 decoder layers
        residual = [float(r[3]) for r in layers]
        cosine = [float(r[4]) for r in layers]
        assert all(0 < v <= 1 for v in residual) and all(-1 <= v <= 1 for v in cosine)
        assert math.isnan(float(layers[0][5]))  # no query weight below the first layer
        assert all(float(r[5]) > 0 for r in layers[1:])
    for name in ("t.png", "t.md", "t_attention_softmax.png", "t_attention_dagpam.png", "t_attention_diff.png"):
        assert (out / name).stat().st_size > 0


def test_metrics_match_direct_definitions():
    x = torch.randn(5, 2, 8)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[1, 3:] = True
    got = analyze.mean_pairwise_cosine(x, pad)
    want = []
    for b, n in ((0, 5), (1, 3)):
        s = torch.nn.functional.normalize(x[:n, b], dim=-1)
        sims = [float(s[i] @ s[j]) for i in range(n) for j in range(n) if i != j]
        want.append(sum(sims) / len(sims))
    assert got.item() == pytest.approx(sum(want) / 2, abs=1e-6)
    same = torch.ones(4, 1, 3)
    assert analyze.mean_pairwise_cosine(same, None).item() == pytest.approx(1.0)


def test_refuses_what_it_cannot_interpret(lm_dir, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="cannot interpret .*torch.load failed"):
        analyze.load(garbage, lm_dir)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(SystemExit, match="not a fairseq checkpoint"):
        analyze.load(plain, lm_dir)
    with pytest.raises(SystemExit, match="no such file"):
        analyze.load(tmp_path / "missing.pt", lm_dir)
    with pytest.raises(SystemExit, match="has no dict"):
        analyze.main(["--data", str(tmp_path), "--checkpoint", str(lm_dir.parent / "softmax.pt")])


def test_softmax_jacobian_total_matches_lemma_3():
    rows = depth.softmax_jacobian_check([3, 9], samples=25, seed=0)
    for row in rows:
        assert row["max_abs_error"] < 1e-12
        assert row["uniform_is_max"] == 1.0
        assert row["total_at_uniform_autograd"] == pytest.approx(2 * (1 - 1 / row["n"]))
        assert row["largest_total_random"] < row["total_at_uniform_autograd"]


def test_pure_softmax_attention_collapses_with_depth_and_coda_does_not():
    softmax = depth.residual_curve("softmax", depth=4, seed=1, tokens=16, batch=2, dim=32, heads=4)
    assert softmax[0] > 0.1 and softmax[-1] < 1e-4 * softmax[0]  # doubly exponential in depth
    coda = depth.residual_curve("coda", depth=4, seed=1, tokens=16, batch=2, dim=32, heads=4)
    assert coda[-1] > 0.1
