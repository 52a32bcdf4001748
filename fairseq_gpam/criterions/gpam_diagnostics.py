"""fairseq's standard criteria, plus daGPAM diagnostics in the logged metrics.

``--criterion gpam_cross_entropy`` / ``gpam_label_smoothed_cross_entropy`` /
``gpam_adaptive_loss`` compute exactly the loss of the criterion without the
prefix (loss and perplexity in base 2, as fairseq reports them) and add:

* ``gpam_lambda_neg`` (and ``_min``, ``_max``): lambda- over all daGPAM modules, every batch;
* ``gpam_neg_mass``: mean over attention rows of the total negative weight;
* ``gpam_res_enc{i}`` / ``gpam_res_dec{i}``: rank-collapse residual
  ||X - 1 x^T|| / ||X|| of each layer's output,

the last two every ``--gpam-diagnostics-interval`` training batches and on
every validation batch (0 turns them off). Batches that measure take the
explicit attention path, which returns the signed weights.
"""

from dataclasses import dataclass, field

from fairseq import metrics
from fairseq.criterions import register_criterion
from fairseq.criterions.adaptive_loss import AdaptiveLoss, AdaptiveLossConfig
from fairseq.criterions.cross_entropy import CrossEntropyCriterion, CrossEntropyCriterionConfig
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)

from fairseq_gpam.diagnostics import collect_activity, lambda_summary

PREFIX = "gpam_"
COUNT_KEY = PREFIX + "diag_batches"
# fairseq sums the logging outputs of data-parallel workers into one dict when the
# criterion allows it (label-smoothed CE does): every mean needs its own count.
LAMBDA_COUNT_KEY = PREFIX + "lambda_batches"

INTERVAL_HELP = (
    "measure negative attention mass and per-layer rank-collapse residuals every N "
    "training batches and on every validation batch; 0 turns them off"
)


class GpamDiagnosticsMixin:
    """Adds daGPAM metrics to a fairseq criterion's logging output; the loss is untouched."""

    def _init_diagnostics(self, interval: int) -> None:
        if interval < 0:
            raise ValueError(
                f"--gpam-diagnostics-interval={interval} is invalid; give 0 (off) or a positive number"
            )
        self.gpam_diagnostics_interval = interval
        self._gpam_train_batches = 0

    def _measure_now(self, training: bool) -> bool:
        if self.gpam_diagnostics_interval == 0:
            return False
        if not training:
            return True
        self._gpam_train_batches += 1
        return (self._gpam_train_batches - 1) % self.gpam_diagnostics_interval == 0

    def forward(self, model, sample, reduce=True):
        if not self._measure_now(model.training):
            loss, sample_size, logging_output = super().forward(model, sample, reduce=reduce)
            stats = {}
        else:
            with collect_activity(model) as stats:
                loss, sample_size, logging_output = super().forward(model, sample, reduce=reduce)
        lambdas = lambda_summary(model)
        if lambdas:
            logging_output[LAMBDA_COUNT_KEY] = 1
        for name, value in lambdas.items():
            logging_output[PREFIX + name] = value
        if stats:
            logging_output[COUNT_KEY] = 1
            for name, value in stats.items():
                logging_output[PREFIX + name] = value.item()
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        reduce_gpam_metrics(logging_outputs)


def reduce_gpam_metrics(logging_outputs) -> None:
    """Average the gpam_* entries: lambdas over all batches, measurements over the
    batches that measured (``gpam_diag_batches`` of them)."""
    counts = (COUNT_KEY, LAMBDA_COUNT_KEY)
    keys = sorted({k for log in logging_outputs for k in log if k.startswith(PREFIX) and k not in counts})
    measured = sum(log.get(COUNT_KEY, 0) for log in logging_outputs)
    for key in keys:
        if key.startswith(PREFIX + "lambda_neg"):
            logs = [log for log in logging_outputs if key in log]
            # a log summed over workers carries their count (older logs: count 1)
            batches = sum(log.get(LAMBDA_COUNT_KEY, 1) for log in logs)
            metrics.log_scalar(key, sum(log[key] for log in logs) / batches, batches, round=4)
        elif measured > 0:
            total = sum(log.get(key, 0.0) for log in logging_outputs)
            metrics.log_scalar(key, total / measured, measured, round=4)


@dataclass
class GpamCrossEntropyConfig(CrossEntropyCriterionConfig):
    gpam_diagnostics_interval: int = field(default=100, metadata={"help": INTERVAL_HELP})


@register_criterion("gpam_cross_entropy", dataclass=GpamCrossEntropyConfig)
class GpamCrossEntropyCriterion(GpamDiagnosticsMixin, CrossEntropyCriterion):
    """``cross_entropy`` with daGPAM diagnostics."""

    def __init__(self, task, sentence_avg, gpam_diagnostics_interval=100):
        super().__init__(task, sentence_avg)
        self._init_diagnostics(gpam_diagnostics_interval)


@dataclass
class GpamLabelSmoothedCrossEntropyConfig(LabelSmoothedCrossEntropyCriterionConfig):
    gpam_diagnostics_interval: int = field(default=100, metadata={"help": INTERVAL_HELP})


@register_criterion("gpam_label_smoothed_cross_entropy", dataclass=GpamLabelSmoothedCrossEntropyConfig)
class GpamLabelSmoothedCrossEntropyCriterion(GpamDiagnosticsMixin, LabelSmoothedCrossEntropyCriterion):
    """``label_smoothed_cross_entropy`` with daGPAM diagnostics."""

    def __init__(
        self,
        task,
        sentence_avg,
        label_smoothing,
        ignore_prefix_size=0,
        report_accuracy=False,
        gpam_diagnostics_interval=100,
    ):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        self._init_diagnostics(gpam_diagnostics_interval)


@dataclass
class GpamAdaptiveLossConfig(AdaptiveLossConfig):
    gpam_diagnostics_interval: int = field(default=100, metadata={"help": INTERVAL_HELP})


@register_criterion("gpam_adaptive_loss", dataclass=GpamAdaptiveLossConfig)
class GpamAdaptiveLoss(GpamDiagnosticsMixin, AdaptiveLoss):
    """``adaptive_loss`` with daGPAM diagnostics."""

    def __init__(self, task, sentence_avg, gpam_diagnostics_interval=100):
        super().__init__(task, sentence_avg)
        self._init_diagnostics(gpam_diagnostics_interval)

    @classmethod
    def build_criterion(cls, cfg, task):
        # AdaptiveLoss.build_criterion refuses c10d itself and then calls
        # cls(task, sentence_avg), which would drop our option.
        AdaptiveLoss.build_criterion(cfg, task)
        return cls(task, cfg.sentence_avg, cfg.gpam_diagnostics_interval)
