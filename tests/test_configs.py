"""The hydra configs in configs/: each is generated from the recipe table (gpam_tools/run/recipes.py, the
one place recipes live), composes into a valid fairseq config naming registered components, baseline
and daGPAM differ only in attention, and fairseq-hydra-train starts from them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fairseq_gpam  # noqa: F401  (registers the gpam_ models and criteria)
from fairseq.models import ARCH_MODEL_REGISTRY
from fairseq.criterions import CRITERION_REGISTRY
from standin_data import REPO, prepare, script_env

CONFIG_DIR = REPO / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*/*.yaml"))


def compose(path: Path, overrides=()):
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from fairseq.dataclass.initialize import hydra_init

    from hydra.version import VersionBase

    GlobalHydra.instance().clear()
    hydra_init("config")
    # version_base is process-wide: left at 1.3 it makes fairseq's own hydra.experimental
    # calls raise in every later test of this process
    saved = VersionBase.instance().version_base
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base=None):
            cfg = hydra_compose(config_name=path.stem, overrides=list(overrides))
    finally:
        VersionBase.instance().version_base = saved
        GlobalHydra.instance().clear()
    return OmegaConf.to_container(cfg, resolve=True)


def test_every_config_is_the_recipe_tables():
    """A config edited by hand, missing, or left over from a recipe that is gone fails here."""
    from gpam_tools.run.recipe_configs import CONFIGS as TABLE, differing

    assert differing(CONFIG_DIR) == []
    assert set(TABLE) == {f"{p.parent.name}/{p.stem}" for p in CONFIGS}


def test_the_check_fails_on_a_config_edited_by_hand(tmp_path):
    import shutil

    from gpam_tools.run.recipe_configs import differing

    shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    edited = tmp_path / "configs" / "wmt14_en_de" / "big_dagpam.yaml"
    edited.write_text(edited.read_text().replace("warmup_updates: 4000", "warmup_updates: 8000"))
    (tmp_path / "configs" / "ptb" / "lm_old.yaml").write_text("task: {}\n")
    assert sorted(differing(tmp_path / "configs")) == ["ptb/lm_old", "wmt14_en_de/big_dagpam"]


def test_every_benchmark_has_a_baseline_and_a_dagpam_config():
    names = {f"{p.parent.name}/{p.stem}" for p in CONFIGS}
    for benchmark in ("iwslt14_de_en", "wmt14_en_de", "wikitext103", "ptb"):
        assert any(n.startswith(benchmark + "/") and "baseline" in n for n in names), benchmark
        for name in [n for n in names if n.startswith(benchmark + "/") and "baseline" in n]:
            assert name.replace("baseline", "dagpam") in names, name


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_composes_to_registered_components(path):
    cfg = compose(path, ["task.data=/data"])
    arch = cfg["model"]["_name"]
    assert arch in ARCH_MODEL_REGISTRY, arch
    assert cfg["criterion"]["_name"] in CRITERION_REGISTRY
    assert cfg["criterion"]["_name"].startswith("gpam_")
    assert cfg["common"]["user_dir"] == "fairseq_gpam"
    assert cfg["checkpoint"]["save_dir"].endswith(path.stem)
    is_dagpam = "dagpam" in path.stem
    assert arch.startswith("gpam_") == is_dagpam
    assert (cfg["model"].get("gpam_attention") == "dagpam") == is_dagpam
    if is_dagpam:
        # apart from the attention, the daGPAM config is its baseline's
        base = compose(path.with_name(path.name.replace("dagpam", "baseline")), ["task.data=/data"])
        strip = lambda c: {k: v for k, v in c.items() if k not in ("model", "checkpoint")}
        assert strip(cfg) == strip(base)
        model = {k: v for k, v in cfg["model"].items() if not k.startswith("gpam_") and k != "_name"}
        assert model == {k: v for k, v in base["model"].items() if k != "_name"}
        assert arch == "gpam_" + base["model"]["_name"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    prepare("ci_deen", root, vocab=400, limit=200)
    return root


def test_hydra_train_starts_from_the_iwslt_dagpam_preln_config(data_root, tmp_path):
    """The full-size IWSLT daGPAM pre-LN config trains 2 updates on a tiny fixture."""
    cmd = [sys.executable, "-m", "fairseq_cli.hydra_train",
           "--config-dir", str(CONFIG_DIR / "iwslt14_de_en"), "--config-name", "dagpam_preln",
           f"task.data={data_root / 'data-bin' / 'ci_deen'}", f"common.user_dir={REPO / 'fairseq_gpam'}",
           "optimization.max_update=2", "dataset.max_tokens=512", "dataset.num_workers=0",
           "dataset.max_valid_steps=1", "checkpoint.no_save=true", "common.log_interval=1",
           f"checkpoint.save_dir={tmp_path / 'ckpt'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=script_env(), timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "arch='gpam_transformer_iwslt_de_en'" in log or '"arch": "gpam_transformer_iwslt_de_en"' in log \
        or "gpam_transformer_iwslt_de_en" in log
    assert "encoder_normalize_before=True" in log or "'encoder_normalize_before': True" in log
    assert re.search(r'"train_num_updates": "2"', log), log[-3000:]
    assert "train_gpam_lambda_neg" in log  # the daGPAM modules are in the model
