"""The alternatives study: its runs (every variant, one layout, the run layer's names), a peer
variant trained in the gpam_ architecture, and the first alternatives study's table rebuilt by
`gpam collect` from its own layout."""

import json

import pytest

from gpam_tools.run.recipes import LANGUAGE_MODELING, RECIPES, fairseq_args, system_fields
from gpam_tools.run.run_spec import RunError, RunSpec, resolve
from standin_data import prepare, run_gpam


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("alternatives-data")
    prepare("ci_lm", root, limit=50)
    return root


def test_every_variant_is_a_run_of_the_one_layout_seed_by_seed(data, tmp_path):
    proc = run_gpam("study", "alternatives", "--list", "--data-root", data, "--out", tmp_path / "out",
                    "--work", tmp_path / "work", "--layers", "3", "--updates", "20", timeout=60)
    assert proc.returncode == 0, proc.stderr
    paths = [line.split()[1] for line in proc.stdout.splitlines()]
    systems = ["softmax", "dagpam-fixed0.2", "dagpam-layer0.2", "non", "nap", "coda", "diff", "cog"]
    assert paths == [f"ci_lm/cpu-preln-L3d64u20/{s}/seed{seed}" for seed in (1, 2) for s in systems]


def test_a_peer_variant_trains_in_the_gpam_architecture_and_refuses_lambdas(data):
    run = resolve(RunSpec(dataset="ci_lm", attention="coda", preset="tiny"), data)
    assert (run.system, run.arch) == ("coda", "gpam_transformer_lm")
    args = fairseq_args(LANGUAGE_MODELING, run.recipe, system_fields(LANGUAGE_MODELING, "pre", "coda", "0.2",
                                                                      "fixed", "1.0"), "coda")
    assert args[args.index("--arch") + 1] == "gpam_transformer_lm"
    assert args[args.index("--gpam-attention") + 1] == "coda" and "--gpam-lambda-neg" not in args
    with pytest.raises(RunError, match="apply to --attention dagpam only"):
        resolve(RunSpec(dataset="ci_lm", attention="nap", lambda_neg="0.3", preset="tiny"), data)
    assert RECIPES[(LANGUAGE_MODELING, "tiny")].arch == "transformer_lm"


def test_the_first_alternatives_table_is_built_from_its_run_results(tmp_path):
    scale = {"layers": 15, "dim": 64, "heads": 4, "ffn": 256, "tokens_per_sample": 64, "max_tokens": 512,
             "max_update": 10, "lr": 0.002, "warmup": 5, "context_window": 32, "data": "toy"}
    for variant, seed, ppl in (("softmax", 1, 100.0), ("softmax", 2, 110.0), ("diff", 1, 90.5)):
        run = tmp_path / "runs" / variant / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({"variant": variant, "seed": seed, "test_ppl": ppl,
                                                     "scale": scale}))
    proc = run_gpam("collect", tmp_path / "runs", "--out", tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    csv = (tmp_path / "alternatives.csv").read_text().splitlines()
    assert csv[1] == "softmax,2,105.00,100.00,110.00,1:100.00 2:110.00"
    assert csv[2] == "diff,1,90.50,90.50,90.50,1:90.50"
    md = (tmp_path / "alternatives.md").read_text()
    assert "15-layer" in md and "do not reproduce it" in md and "Not run (yet): dagpam" in md
