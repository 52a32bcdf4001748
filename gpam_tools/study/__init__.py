"""Study specifications: what ``gpam study NAME`` trains, evaluates and tabulates.

A study is datasets x systems x seeds x settings. Each specification is a short Python module in
``specs/`` (``gpam study NAME`` loads ``gpam_tools/study/specs/<NAME with - as _>.py``; ``gpam study
path/to/spec.py`` loads a file elsewhere) defining one function::

    def study(mt_updates: int = 1000, smoke: bool = False) -> Study:
        ...

Its keyword parameters become the study's own command-line options (``--mt-updates 40``,
``--smoke``; the type comes from the default: int, float, str or bool), listed by
``gpam study NAME --help``. It returns a :class:`Study`: a list of :class:`Part` (one setting
each: datasets, systems, RunSpec fields, evaluation options) plus where results go. The runner
(``gpam_tools/study/runner.py``) turns every (part, seed, dataset, system) into a
``gpam_tools.run.run_spec.RunSpec`` (so run names, recipes and the data contract are the run layer's) and
orders the runs seed by seed across the parts named, so that a cut-off study holds whole seeds.

Why Python and not TOML/JSON: a study needs a little computation that data files cannot say
without a private mini-language of their own (a lambda sweep at the first seed only, update
counts and directions given on the command line, a smoke size of the same study, a note that
quotes the wall time); with plain dataclasses the fields are checked when the module is loaded,
systems are shared by import, and the command-line options come from the function's signature.
Specifications are code of this repository; user data never reaches them.

Minimal example (two systems, three seeds, on any prepared dataset)::

    from gpam_tools.study import Part, Study, SOFTMAX, DAGPAM_FIXED

    def study(dataset: str = "my_corpus", updates: int = 500) -> Study:
        return Study(name="mine", title="softmax vs daGPAM on my corpus", seeds=(1, 2, 3),
                     parts=(Part(name="main", datasets=(dataset,), systems=(SOFTMAX, DAGPAM_FIXED),
                                 run={"preset": "cpu", "max_update": updates}),))

The dataset's task (translation or language modelling), languages and model family come from
its ``prep-info.json``: a Part names datasets, never their kind.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

# RunSpec fields a System may set (the run layer names the run from them: softmax, dagpam-fixed0.2 ...)
SYSTEM_FIELDS = ("attention", "lambda_neg", "lambda_mode", "lambda_max")
# RunSpec fields a Part may set for all its runs
RUN_FIELDS = ("preset", "model", "ln", "src", "tgt", "max_update", "tag", "extra_args")
EVALUATE_FIELDS = ("checkpoint", "max_len_a", "max_len_b", "context_window", "beam", "lenpen")


@dataclass(frozen=True)
class System:
    """One attention system: RunSpec fields (``attention``, ``lambda_neg``, ``lambda_mode``, ``lambda_max``).

    lambda values are strings as they appear in run names ("0.2" -> ``dagpam-fixed0.2``).
    """

    attention: str
    lambda_neg: Optional[str] = None
    lambda_mode: Optional[str] = None
    lambda_max: Optional[str] = None

    def fields(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in SYSTEM_FIELDS if getattr(self, k) is not None}


SOFTMAX = System("softmax")
DAGPAM_FIXED = System("dagpam", lambda_neg="0.2", lambda_mode="fixed")      # lambda- = 0.2, lambda+ = 1.2
DAGPAM_LAYER = System("dagpam", lambda_neg="0.2", lambda_mode="layer")      # trainable per layer, from 0.2


@dataclass(frozen=True)
class Part:
    """One setting of a study: every dataset x system here, at the seeds ``seeds`` selects.

    name      selectable on the command line (``gpam study comparison mt-preln lm``)
    datasets  prepared dataset names (``<data-root>/data-bin/<name>``); missing shipped corpora
              (``data-prep/corpora/<name>``) are prepared first
    systems   the attention systems compared (the softmax baseline among them)
    run       RunSpec fields shared by the part's runs (RUN_FIELDS: preset, ln, src/tgt, max_update,
              tag, extra_args = fairseq-train arguments such as validation intervals)
    evaluate  options of ``gpam_tools.run.evaluate.evaluate`` (EVALUATE_FIELDS; default: last checkpoint);
              those that do not apply to a dataset's task are left out for it (max_len_* for a language
              model, context_window for translation)
    seeds     "all" (the study's seeds) or "first" (only the first of them: a sweep)
    """

    name: str
    datasets: Tuple[str, ...]
    systems: Tuple[System, ...]
    run: Mapping[str, Any] = field(default_factory=dict)
    evaluate: Mapping[str, Any] = field(default_factory=dict)
    seeds: str = "all"

    def __post_init__(self):
        for key in self.run:
            if key not in RUN_FIELDS:
                raise ValueError(f"part {self.name}: run field {key!r} is not one of {', '.join(RUN_FIELDS)}")
        for key in self.evaluate:
            if key not in EVALUATE_FIELDS:
                raise ValueError(f"part {self.name}: evaluate field {key!r} is not one of {', '.join(EVALUATE_FIELDS)}")
        if self.seeds not in ("all", "first"):
            raise ValueError(f"part {self.name}: seeds must be 'all' or 'first', not {self.seeds!r}")
        if not self.datasets or not self.systems:
            raise ValueError(f"part {self.name}: name at least one dataset and one system")


@dataclass(frozen=True)
class Study:
    """A whole study: its parts, seeds, and where its results go.

    out / work   default results directory (kept light files and tables) and work directory
                 (checkpoints), relative to the repository unless absolute
    title, note  the tables' title, and the note put under it: a file (``note_file``, relative to the
                 repository) or a function ``note(facts) -> str`` (``facts``: wall_seconds, cores,
                 out_rel, seeds), written to OUT/NOTE.md
    fresh        True: every run starts from scratch and OUT is replaced in one step at the end
                 (a demo); False: resumable (finished runs skipped, cut-off runs resumed)
    keep_checkpoints  True: a finished run's checkpoints stay in WORK (for analyses of the trained
                 models); False: only its light files stay, in OUT/runs
    jobs         runs side by side (one torch thread each)
    report       a function ``report(out, data_root) -> str`` run after the tables: its text is printed
                 instead of the side-by-side table and written to OUT/report.md (the demo's report)
    default_parts  the parts run when none is named (None: all; (): the user must name at least one)
    """

    name: str
    parts: Tuple[Part, ...]
    seeds: Tuple[int, ...] = (1,)
    title: str = "Results"
    note_file: Optional[str] = None
    note: Optional[Callable[[Dict[str, Any]], str]] = None
    out: Optional[str] = None
    work: Optional[str] = None
    fresh: bool = False
    keep_checkpoints: bool = False
    jobs: int = 1
    report: Optional[Callable[[Any, Any], str]] = None
    default_parts: Optional[Tuple[str, ...]] = None

    def __post_init__(self):
        names = [p.name for p in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name}: part names repeat: {names}")
