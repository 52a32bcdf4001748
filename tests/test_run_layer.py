"""The run layer without training: the recipe table, run naming, the data contract and the BLEU definition.

* every committed run (``results/**/run-info.json``) is found again at its committed path by
  ``gpam_tools.run.run_spec`` and its recipe gives the fairseq-train values it was trained with;
* every recipe, as baseline and daGPAM, pre- and post-LN, is accepted by fairseq's own parser;
* any prepared dataset works: task and languages come from ``prep-info.json``, not from its name;
* tokenized BLEU is multi-bleu.perl's number (no smoothing), checked against a direct computation;
* a fairseq-train that aborts at shutdown after reporting the end of training leaves a complete run; one
  that aborts before it fails;
* fairseq's child processes get the plugin, the thread count and glibc's keep-freed-memory settings,
  with a user's own setting left as it is.
"""

import io
import json
import math
import sys
from collections import Counter
from pathlib import Path

import pytest

from gpam_tools.run import recipes
from gpam_tools.run.run_spec import KEEP_FREED_MEMORY, RunError, RunSpec, fairseq_env, resolve, run_dir
from gpam_tools.run import train as train_module
from gpam_tools.run.train import TrainingFailed, build_command, train
from standin_data import REPO

COMMITTED = sorted(REPO.glob("results/**/run-info.json"))


def fake_prepared(data_root: Path, name: str, task: str, langs, train_lines: int = 1000, **fields) -> Path:
    """A data-bin directory that satisfies the contract's checks (files present, prep-info.json)."""
    data_bin = data_root / "data-bin" / name
    data_bin.mkdir(parents=True, exist_ok=True)
    if task == "translation":
        pair = "-".join(langs)
        names = [f"{s}.{pair}.{l}.idx" for s in ("train", "valid", "test") for l in langs]
    else:
        names = [f"{s}.idx" for s in ("train", "valid", "test")]
    for n in names:
        (data_bin / n).touch()
    (data_bin / "prep-info.json").write_text(json.dumps(
        {"dataset": name, "task": task, "langs": list(langs), "lines": {"train": train_lines}, **fields}))
    (data_bin / "PREPARED").touch()
    return data_bin


def spec_of(info: dict) -> RunSpec:
    dagpam = info["attention"] == "dagpam"
    return RunSpec(dataset=info["dataset"], attention=info["attention"], seed=int(info["seed"]),
                   preset=info["preset"], model=info["model"] if info["preset"] == "full" else None,
                   ln=info["ln"], src=info["src"] or None, tgt=info["tgt"] or None,
                   lambda_neg=info["lambda_neg"] if dagpam else None, lambda_mode=info["lambda_mode"] if dagpam else None,
                   lambda_max=info["lambda_max"] if dagpam else None, max_update=info["max_update"],
                   tag=info.get("tag", ""), dry_run=info.get("dry_run") == "1")


def test_committed_runs_are_found_at_their_paths_with_their_recipes(tmp_path):
    assert len(COMMITTED) >= 40
    for path in COMMITTED:
        info = json.loads(path.read_text())
        if not (tmp_path / "data-bin" / info["dataset"]).exists():
            langs = [info["src"], info["tgt"]] if info["task"] == "translation" else ["en"]
            fake_prepared(tmp_path, info["dataset"], info["task"], langs)
        spec = spec_of(info)
        run = resolve(spec, tmp_path)
        rel = path.parent.relative_to(path.parents[4]).as_posix()
        assert run.relative_dir.as_posix() == rel, path
        assert run_dir("/runs", spec, tmp_path) == Path("/runs") / rel
        assert run.system == info["system"] and run.arch == info["arch"]
        # the recipe's fairseq-train values are the ones the run was trained with (last value wins); a study
        # part's own flags (the deep study's --decoder-layers 2, its validation interval) come after the recipe's
        command = build_command(run, Path("/save"))
        ours, theirs = flag_values(command), flag_values(info["command"][:len(command)])
        for flag, value in ours.items():
            if flag not in ("--user-dir", "--save-dir"):
                assert flag in theirs and same(value, theirs[flag]), (path, flag, value, theirs.get(flag))


def flag_values(argv):
    """{--flag: its last value, or True for a switch}."""
    out = {}
    for i, arg in enumerate(argv):
        if arg.startswith("--"):
            nxt = argv[i + 1] if i + 1 < len(argv) else "--"
            out[arg] = True if nxt.startswith("--") else nxt
    return out


def same(a, b) -> bool:
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return False


def parse_with_fairseq(argv, data_dir):
    from fairseq import options

    parser = options.get_training_parser()
    return options.parse_args_and_arch(parser, [str(data_dir), "--user-dir", str(REPO / "fairseq_gpam"), *argv])


@pytest.mark.parametrize("key", sorted(recipes.RECIPES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_recipe_is_accepted_by_fairseq(key, tmp_path, dict_dir):
    family, model = key
    recipe = recipes.RECIPES[key]
    lns = ("pre", "post") if family == recipes.TRANSLATION else ("pre",)
    for ln in lns:
        for attention in ("softmax", "dagpam"):
            fields = recipes.system_fields(family, ln, attention, "0.2", "layer", "1.0")
            argv = recipes.fairseq_args(family, recipe, fields, attention)
            if family == recipes.TRANSLATION:
                argv += ["--source-lang", "de", "--target-lang", "en"]
            args = parse_with_fairseq(argv, dict_dir)
            assert args.arch == ("gpam_" if attention == "dagpam" else "") + recipe.arch
            if family == recipes.TRANSLATION:
                assert bool(getattr(args, "encoder_normalize_before", False)) == (ln == "pre")
            if attention == "dagpam":
                assert args.gpam_lambda_mode == "layer" and args.gpam_lambda_neg == 0.2
            for name, value in recipe.dataset.items():
                assert getattr(args, name) == value, name


def test_any_prepared_dataset_trains_by_its_prep_info(tmp_path):
    fake_prepared(tmp_path, "my_corpus", "translation", ["es", "en"], train_lines=31000)
    fake_prepared(tmp_path, "big_pairs", "translation", ["en", "fr"], train_lines=4_500_000)
    fake_prepared(tmp_path, "ci_deen", "language_modeling", ["en"])  # a shipped name holding other data
    run = resolve(RunSpec("my_corpus", seed=2, preset="cpu"), tmp_path)
    assert run.relative_dir == Path("my_corpus.es-en/cpu-preln/dagpam-fixed0.2/seed2")
    assert resolve(RunSpec("my_corpus", tgt="es"), tmp_path).relative_dir.parts[:2] == ("my_corpus.en-es", "iwslt-postln")
    assert resolve(RunSpec("big_pairs", attention="softmax"), tmp_path).relative_dir == \
        Path("big_pairs.en-fr/base-postln/softmax/seed1")
    lm = resolve(RunSpec("ci_deen", preset="tiny", lambda_mode="head", lambda_neg=0.05), tmp_path)
    assert lm.data.task == "language_modeling" and lm.relative_dir == Path("ci_deen/tiny-preln/dagpam-head0.05/seed1")
    assert resolve(RunSpec("ci_deen", dry_run=True, tag="x"), tmp_path).relative_dir.parts[1] == "dryrun-lm-preln-x"
    # the data's own default full-size recipe (prep-info.json's full_model) wins over the size rule
    fake_prepared(tmp_path, "ptb", "language_modeling", ["en"], full_model="lm15")
    assert resolve(RunSpec("ptb"), tmp_path).relative_dir.parts[1] == "lm15-preln"
    assert resolve(RunSpec("ptb", model="lm8"), tmp_path).relative_dir.parts[1] == "lm8-preln"
    fake_prepared(tmp_path, "odd", "language_modeling", ["en"], full_model="iwslt")
    with pytest.raises(RunError, match="names full_model 'iwslt', which is no language_modeling recipe"):
        resolve(RunSpec("odd"), tmp_path)


@pytest.mark.parametrize("spec, message", [
    (RunSpec("my_corpus", attention="softmax", lambda_neg=0.1), "--lambda-* options apply to --attention dagpam only"),
    (RunSpec("my_corpus", lambda_mode="token"), "--lambda-mode must be fixed, layer or head"),
    (RunSpec("my_corpus", lambda_neg="a lot"), "--lambda-neg must be a number"),
    (RunSpec("my_corpus", preset="huge"), "--preset must be full, cpu or tiny"),
    (RunSpec("my_corpus", model="lm8"), "--model lm8 does not exist for translation data; choose one of: iwslt base big"),
    (RunSpec("my_corpus", preset="cpu", model="big"), "--model big is a full-size model; drop --preset cpu or --model"),
    (RunSpec("my_corpus", ln="middle"), "--ln must be pre or post"),
    (RunSpec("lm_corpus", ln="post"), "--ln post is not available for language models"),
    (RunSpec("lm_corpus", src="de"), "--src/--tgt apply to translation only"),
    (RunSpec("my_corpus", tag="a/b"), "--tag 'a/b' cannot name a directory"),
    (RunSpec("../elsewhere"), "dataset '../elsewhere' cannot name a directory"),
    (RunSpec("my_corpus", src="es", tgt="fr"), "language pair es-fr does not match the data"),
])
def test_bad_run_specs_are_refused_with_the_fix(spec, message, tmp_path):
    fake_prepared(tmp_path, "my_corpus", "translation", ["es", "en"])
    fake_prepared(tmp_path, "lm_corpus", "language_modeling", ["en"])
    with pytest.raises(RunError) as err:
        resolve(spec, tmp_path)
    assert message in str(err.value)


def multi_bleu_perl(hyps, refs):
    """multi-bleu.perl's formula, written out: corpus n-gram precisions (clipped), brevity penalty, no smoothing."""
    match, total, hyp_len, ref_len = [0] * 4, [0] * 4, 0, 0
    for h, r in zip(hyps, refs):
        h, r = h.split(), r.split()
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, 5):
            hc = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    if min(match) == 0:
        return 0.0
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / 4)


def test_tokenized_bleu_is_what_multi_bleu_perl_reports(tmp_path):
    from gpam_tools.run.scoring import score

    refs = ["the cat sat on the mat .", "a dog , barking loudly , ran away", "we ' re here today"]
    cases = {
        "overlap": ["the cat sat on a mat .", "a dog , barking , ran far away", "we are here today"],
        "no 4-gram match": ["the cat on mat", "dog barking ran", "we here today"],  # exp smoothing would give > 0
    }
    for name, hyps in cases.items():
        out = tmp_path / f"{name}.txt"
        out.write_text("".join(f"H-{i}\t-0.5\t{h}\nT-{i}\t{r}\n" for i, (h, r) in enumerate(zip(hyps, refs))))
        ref = tmp_path / "ref.txt"
        ref.write_text("".join(r + "\n" for r in refs))
        result, _ = score(out, ref)
        assert result["bleu_tokenized"] == round(multi_bleu_perl(hyps, refs), 2), name
        assert "tok:none|smooth:none" in result["bleu_tokenized_signature"]
    assert result["bleu_tokenized"] == 0.0


def test_fairseq_children_keep_freed_memory_unless_the_user_says_otherwise(monkeypatch):
    for name in KEEP_FREED_MEMORY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MALLOC_TOP_PAD_", "4096")
    env = fairseq_env(threads=1)
    assert env["MALLOC_TOP_PAD_"] == "4096"
    assert env["MALLOC_MMAP_THRESHOLD_"] == KEEP_FREED_MEMORY["MALLOC_MMAP_THRESHOLD_"]
    assert env["MALLOC_TRIM_THRESHOLD_"] == KEEP_FREED_MEMORY["MALLOC_TRIM_THRESHOLD_"]
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert env["PYTHONPATH"].split(":")[0] == str(REPO)


@pytest.mark.parametrize("done_first", [True, False])
def test_an_abort_at_shutdown_after_done_training_keeps_the_run(done_first, tmp_path, monkeypatch):
    fake_prepared(tmp_path, "my_corpus", "translation", ["es", "en"])
    fake = tmp_path / "fake-fairseq-train"
    done = "print('2026-12-03 10:00:00 | INFO | fairseq_cli.train | done training in 1.0 seconds', flush=True)\n"
    fake.write_text(f"#!{sys.executable}\nimport os\n" + (done if done_first else "") + "os.abort()\n")
    fake.chmod(0o755)
    monkeypatch.setattr(train_module, "fairseq_tool", lambda name: str(fake))
    spec = RunSpec("my_corpus", preset="tiny", max_update=1)
    if done_first:
        run = train(spec, tmp_path, tmp_path / "runs", stream=io.StringIO())
        assert "exited with signal SIGABRT after it finished training" in (run / "train.log").read_text()
    else:
        with pytest.raises(TrainingFailed, match=r"fairseq-train failed \(exit -6\)"):
            train(spec, tmp_path, tmp_path / "runs", stream=io.StringIO())
