"""The job side of metrics: :class:`ModeCollapseMonitor` (alerts), :class:`MetricsListener` (evaluates
a running job at its checkpoints, publishes rows to ``job.extras`` and ``eval_metrics.jsonl``) and
:func:`install_default_listeners`. A listener failure never stops training.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

import torch

from gan_core.models import latent
from gan_core.storage import rundir
from gan_core.metrics.classifiers import ClassifierUnavailable, FeatureExtractor, classifier_for, load_classifier
from gan_core.losses import get_loss
from gan_core.metrics.evaluate import RealReference, evaluate_generator, real_reference
from gan_core.metrics.paired import PairedReference, evaluate_translator, paired_reference
from gan_core.metrics.scores import MetricsUnavailable, inception_extractor

# When a sample grid has structure (the fakes are no longer noise), judged from one evaluation row: any of
# these figures at or above its floor. Measured on the 1min faces recipe: at steps 10-80 (grey noise)
# coverage is 0.03-0.05, tag accuracy 1% (chance is 0.8%) and the confident fraction 0; at step 250
# coverage is 0.88. A G that ignores z draws clear faces: tag accuracy 75% and more.
STRUCTURE_FLOORS = {"coverage": 0.2, "tag_accuracy": 0.2, "confident_fraction": 0.5}
MIN_ALERT_STEP = 200


def structure_rule(min_step: int = MIN_ALERT_STEP) -> str:
    """The rule the diversity alerts follow, in words (shown in every alert and in the docs)."""
    return (f"judged only from step {min_step} on, once the evaluation shows the samples are no longer noise "
            f"(coverage of the real images >= {STRUCTURE_FLOORS['coverage']:g}, tag accuracy >= "
            f"{100 * STRUCTURE_FLOORS['tag_accuracy']:.0f}% or classifier-confident samples >= "
            f"{100 * STRUCTURE_FLOORS['confident_fraction']:.0f}%)")


class ModeCollapseMonitor:
    """Raises alerts (returned as strings, kept in ``alerts`` as dicts) when

    * **diversity drops**: sample diversity (mean pairwise feature distance) falls below
      ``drop_fraction`` of its running maximum (the first ``warmup`` observations only start the max:
      a fresh G's noise can look diverse), or below ``min_real_ratio`` x the real data's diversity;
    * **G ignores z** (conditional G): samples with the same tags spread less than ``min_tag_ratio``
      times as much as real images with those tags (:meth:`observe_diversity_ratio`);
    * **D saturates** (BCE losses only): D(x) > ``d_real_high`` and D(G(z)) < ``d_fake_low`` for
      ``patience`` log windows in a row: D wins outright and G gets no useful gradient.

    Each alert fires once per episode and re-arms when the condition clears.

    **The grid must have structure first.** Early in a run G draws grey noise, whose diversity (and the
    same-tag ratio) says nothing about collapse. So the two diversity alerts wait until *both*
    ``step >= min_step`` (default :data:`MIN_ALERT_STEP`) *and* the evaluation row passed as
    ``evidence`` shows that the fakes are no longer noise: one of :data:`STRUCTURE_FLOORS` reached
    (PRDC coverage of the real images, tag accuracy, or the share of samples the classifier is sure of).
    Until then an observation is ignored entirely (it neither alerts nor feeds the running maximum);
    without ``evidence`` nothing is judged. :func:`structure_rule` states the rule; every alert quotes it.
    """

    def __init__(self, drop_fraction: float = 0.5, min_real_ratio: float = 0.25, warmup: int = 1,
                 patience: int = 3, d_real_high: float = 0.99, d_fake_low: float = 0.01, min_tag_ratio: float = 0.3,
                 min_step: int = MIN_ALERT_STEP):
        self.drop_fraction, self.min_real_ratio, self.warmup = drop_fraction, min_real_ratio, warmup
        self.min_step = min_step
        self.min_tag_ratio = min_tag_ratio
        self._ignores_z = False
        self.patience, self.d_real_high, self.d_fake_low = patience, d_real_high, d_fake_low
        self.running_max: Optional[float] = None
        self.seen = 0
        self.saturated_windows = 0
        self._collapsed = self._saturated = False
        self.alerts: list[dict[str, Any]] = []

    def has_structure(self, step: int, evidence: Optional[Mapping[str, Any]]) -> bool:
        """Whether the samples at ``step`` can be judged for collapse: ``step >= min_step`` and the
        evaluation row ``evidence`` reaches one of :data:`STRUCTURE_FLOORS` (see the class docstring)."""
        if step < self.min_step or not evidence:
            return False
        return any(isinstance(evidence.get(k), (int, float)) and evidence[k] >= floor
                   for k, floor in STRUCTURE_FLOORS.items())

    def observe_diversity(self, step: int, value: float, real_value: Optional[float] = None,
                          what: str = "sample diversity", evidence: Optional[Mapping[str, Any]] = None) -> Optional[str]:
        """Feed one diversity measurement (always the same kind: ``what`` names it in the message) with
        its evaluation row (``evidence``); returns an alert message or None. Ignored until the samples
        have structure (:meth:`has_structure`)."""
        if not self.has_structure(step, evidence):
            return None
        self.seen += 1
        if self.seen <= self.warmup:
            return None
        reasons = []
        if self.running_max is not None and value < self.drop_fraction * self.running_max:
            reasons.append(f"fell to {value:.3g}, {100 * value / self.running_max:.0f}% of its best so far "
                           f"({self.running_max:.3g})")
        if real_value and value < self.min_real_ratio * real_value:
            reasons.append(f"is {100 * value / real_value:.0f}% of the real images' diversity ({real_value:.3g})")
        self.running_max = value if self.running_max is None else max(self.running_max, value)
        if not reasons:
            self._collapsed = False
            return None
        if self._collapsed:
            return None
        self._collapsed = True
        msg = (f"possible mode collapse at step {step}: {what} " + " and ".join(reasons) +
               ". The samples are becoming alike; try a lower learning rate, more D steps, another loss "
               "(wgan-gp, hinge), spectral norm, or an earlier checkpoint. (This alert is "
               + structure_rule(self.min_step) + ".)")
        self.alerts.append({"step": step, "kind": "mode_collapse", "message": msg, "diversity": value,
                            "running_max": self.running_max, "diversity_real": real_value})
        return msg

    def observe_diversity_ratio(self, step: int, ratio: float, what: str = "pixels",
                                evidence: Optional[Mapping[str, Any]] = None) -> Optional[str]:
        """Feed one same-tag diversity ratio (generated spread / real spread among images with the
        same tags, :func:`gan_core.metrics.fidelity.diversity_ratio`) with its evaluation row (``evidence``);
        alerts when it is below ``min_tag_ratio``: G draws nearly one image per tag combination and
        ignores z. No warm-up (the ratio is already relative to real data), but nothing is judged
        until the samples have structure (:meth:`has_structure`): grey noise has a ratio near 0 too."""
        if not self.has_structure(step, evidence):
            return None
        if ratio >= self.min_tag_ratio:
            self._ignores_z = False
            return None
        if self._ignores_z:
            return None
        self._ignores_z = True
        msg = (f"mode collapse at step {step}: samples that share their tags differ only {ratio:.2f} times as "
               f"much as real images with those tags ({what}), so G ignores z: other seeds and interpolation "
               "will show the same face. Try the recommended recipe (projection D, hinge loss, spectral norm), "
               "the mode-seeking term (loss.ms_weight), TAC-GAN instead of ACGAN, or a lower aux_weight. "
               "(This alert is " + structure_rule(self.min_step) + ".)")
        self.alerts.append({"step": step, "kind": "mode_collapse", "message": msg, "diversity_ratio": ratio})
        return msg

    def observe_d(self, step: int, d_real: float, d_fake: float) -> Optional[str]:
        """Feed one log window's mean D(x), D(G(z)) (probabilities); returns an alert message or None."""
        if d_real > self.d_real_high and d_fake < self.d_fake_low:
            self.saturated_windows += 1
        else:
            self.saturated_windows = 0
            self._saturated = False
        if self.saturated_windows < self.patience or self._saturated:
            return None
        self._saturated = True
        msg = (f"discriminator saturated at step {step}: D(x) = {d_real:.3f} and D(G(z)) = {d_fake:.4f} for "
               f"{self.saturated_windows} log windows in a row; G gets almost no gradient (often followed "
               "by collapse). Try label smoothing (loss.real_label=0.9), a lower D learning rate, or another loss.")
        self.alerts.append({"step": step, "kind": "d_saturation", "message": msg, "d_real": d_real, "d_fake": d_fake})
        return msg

    def observe_step_event(self, ev, loss_name: str) -> Optional[str]:
        """A StepEvent; D saturation is only judged where D's outputs are probabilities (BCE losses)."""
        if not get_loss(loss_name).d_outputs_probs:
            return None
        return self.observe_d(ev.step, ev.d_real, ev.d_fake)


# ---- job-manager listener ------------------------------------------------------------------------------
EVAL_FILE = rundir.EVAL_METRICS
EXTRA_KEYS = ("metrics", "alerts", "metrics_status")


def load_eval_metrics(run_dir: Union[str, os.PathLike]) -> dict[str, list[dict[str, Any]]]:
    """What a :class:`MetricsListener` wrote to ``<run_dir>/eval_metrics.jsonl``, by kind (the same rows as
    ``job.snapshot().extras``), oldest first: for finished runs and after a server restart."""
    return rundir.eval_rows(run_dir, EXTRA_KEYS)


@dataclass
class _JobState:
    monitor: ModeCollapseMonitor
    last_eval_step: int = -1
    reference: Optional[Union[RealReference, PairedReference]] = None
    extractor: Optional[FeatureExtractor] = None
    skip: bool = False
    skip_reason: str = ""


class MetricsListener:
    """Evaluates running jobs; install with :func:`install_default_listeners` (or
    ``get_manager().add_listener(MetricsListener(...))``).

    Runs in the job's event thread: with the job manager's default "process" mode the trainer goes
    on in its own process while this evaluates; in "thread" mode the trainer waits (about 1-3 s for
    256 samples at 32 px on a CPU). What it does per event:

    * StepEvent (every log window): D-saturation check for BCE losses -> maybe an "alerts" row.
    * CheckpointEvent: if at least ``every_n_steps`` steps passed since the last evaluation (or it is
      the first checkpoint, or the final one of a step-limited run), loads G from that checkpoint
      (EMA weights when present), evaluates ``n_samples`` samples (fixed z and tags: the same at every
      evaluation) against ``n_samples`` real images with the dataset's classifier -> a "metrics"
      row; then the diversity check -> maybe an "alerts" row. Evaluations therefore happen at
      checkpoints only: set ``train.checkpoint_every`` to ``every_n_steps`` (or a divisor of it).
    * DoneEvent: evaluates the last checkpoint if it was not evaluated yet (time-limited / stopped runs).
    * StartEvent of a resumed run: drops rows of ``eval_metrics.jsonl`` after the resume step.

    Every row is published twice: ``job.add_extra(kind, row)`` (poll ``job.snapshot().extras[kind]``)
    and one JSON line ``{"extra": kind, "row": row}`` appended to ``<run_dir>/eval_metrics.jsonl`` (read with
    :func:`load_eval_metrics`). Kinds and fields:

    * ``"metrics"``: ``{"step", "checkpoint", "n_real", "n_fake", "features", "fid", "kid", "kid_std",
      "kid_subset_size", "is", "is_std", "is_splits", "is_real", "diversity", "diversity_real",
      ["diversity_within", "diversity_within_real" for a conditional G],
      "confidence", "confident_fraction", "<group>_confidence", "<group>_classes_seen",
      ["tag_accuracy", "<group>_accuracy", "label_confidence" for a conditional G], "eval_seconds", "label"}`` (see
      :func:`evaluate_generator`; "label" is one line of text with the sample sizes, ready to show).
    * ``"alerts"``: ``{"step", "kind": "mode_collapse" | "d_saturation", "message", ...}``.
    * ``"metrics_status"``: ``{"step", "message"}``: why metrics are off, or an evaluation failure
      (never raised: a metric failure must not stop training).

    Datasets: faces and digits (the shipped classifiers). Others use Inception when ``inception`` is
    True, or "auto" and a CUDA GPU is present, and its weights can be loaded; else they are skipped
    (one "metrics_status" row says why).
    """

    def __init__(self, every_n_steps: int = 500, n_samples: int = 256, seed: int = 0,
                 device: Union[str, torch.device] = "cpu", inception: Union[bool, str] = "auto",
                 monitor_factory: Callable[[], ModeCollapseMonitor] = ModeCollapseMonitor,
                 write_file: bool = True):
        if every_n_steps < 1 or n_samples < 8:
            raise ValueError("every_n_steps must be >= 1 and n_samples >= 8")
        self.every_n_steps, self.n_samples, self.seed = every_n_steps, n_samples, seed
        self.device = torch.device(device)
        self.inception = inception
        self.monitor_factory = monitor_factory
        self.write_file = write_file
        self._states: dict[int, _JobState] = {}
        self._lock = threading.Lock()

    def _state(self, job) -> _JobState:
        with self._lock:
            job_state = self._states.get(job.id)
            if job_state is None:
                job_state = self._states[job.id] = _JobState(self.monitor_factory())
            return job_state

    def _publish(self, job, kind: str, row: dict[str, Any]) -> None:
        job.add_extra(kind, row)
        if not self.write_file or getattr(job, "run_dir", None) is None:
            return
        try:
            p = Path(job.run_dir) / EVAL_FILE
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "a", encoding="utf-8") as f:
                f.write(json.dumps({"extra": kind, "row": row}, default=str) + "\n")
        except OSError as e:  # a full disk must not stop training; the in-memory row is there
            job.add_extra("metrics_status", {"step": row.get("step", 0), "message": f"cannot write {EVAL_FILE}: {e}"})

    def _truncate_file(self, job, start_step: int) -> None:
        """A fresh or resumed run: keep only rows up to the step it starts from."""
        if self.write_file and getattr(job, "run_dir", None) is not None:
            rundir.truncate_jsonl(os.path.join(job.run_dir, EVAL_FILE),
                                  lambda d: d["row"].get("step", 0) <= start_step)

    def __call__(self, job, ev) -> None:
        from gan_core.train.events import CheckpointEvent, DoneEvent, StartEvent, StepEvent

        if isinstance(ev, StepEvent):
            job_state = self._state(job)
            msg = job_state.monitor.observe_step_event(ev, job.cfg.loss.name)
            if msg is not None:
                self._publish(job, "alerts", dict(job_state.monitor.alerts[-1]))
        elif isinstance(ev, StartEvent):
            try:
                self._truncate_file(job, ev.start_step)
            except OSError:
                pass
        elif isinstance(ev, CheckpointEvent):
            job_state = self._state(job)
            if ev.step == job_state.last_eval_step:  # never evaluate one step twice
                return
            total = job.cfg.train.steps
            due = job_state.last_eval_step < 0 or ev.step - job_state.last_eval_step >= self.every_n_steps
            if due or (total and ev.step >= total):
                self._evaluate(job, job_state, ev.path, ev.step)
        elif isinstance(ev, DoneEvent):
            job_state = self._state(job)
            if ev.last_checkpoint and ev.reason != "error" and job_state.last_eval_step != ev.step:
                self._evaluate(job, job_state, ev.last_checkpoint, ev.step)
            with self._lock:
                self._states.pop(job.id, None)

    # ---- evaluation ---------------------------------------------------------------------------------
    def _extractor_for(self, cfg, spec) -> tuple[Optional[FeatureExtractor], str]:
        name = classifier_for(cfg.data.dataset, spec)
        if name is not None:
            try:
                return load_classifier(name, self.device), ""
            except ClassifierUnavailable as e:
                return None, str(e)
        if spec.kind != "image":
            return None, "no image metrics for 2D point data"
        use = self.inception is True or (self.inception == "auto" and self.device.type == "cuda")
        if not use:
            return None, (f"no shipped classifier for dataset '{cfg.data.dataset}' and Inception is off "
                          "here (it is slow on a CPU)")
        try:
            return inception_extractor(self.device), ""
        except MetricsUnavailable as e:
            return None, str(e)

    def _evaluate(self, job, job_state: _JobState, path: str, step: int) -> None:
        if job_state.skip:
            return
        job_state.last_eval_step = step
        try:
            from gan_core.storage.checkpoint import load_generator
            from gan_core.data import load_dataset

            G, cfg, spec = load_generator(path, device=self.device)
            translator = getattr(G, "takes_image", False)   # pix2pix: L1 (and FID) on held-out pairs
            if job_state.reference is None:
                ext, why = self._extractor_for(cfg, spec)
                if translator:
                    job_state.extractor = ext
                    job_state.reference = paired_reference(load_dataset(cfg.data), ext, self.n_samples)
                    if ext is None:
                        self._publish(job, "metrics_status", {"step": step, "message": f"no FID: {why}; L1 only"})
                elif ext is None:
                    job_state.skip, job_state.skip_reason = True, why
                    self._publish(job, "metrics_status", {"step": step, "message": f"metrics off: {why}"})
                    return
                else:
                    ds = load_dataset(cfg.data)
                    job_state.extractor = ext
                    labels = ds.labels if spec.num_classes and ds.labels is not None and ds.labels.numel() else None
                    job_state.reference = real_reference(ds.images, ext, self.n_samples, self.seed, labels=labels)
            g = latent.rng(self.seed, latent.EVAL_SEED_OFFSET)  # the same z and tags at every evaluation
            row = (evaluate_translator(G, job_state.reference, job_state.extractor, self.seed) if translator else
                   evaluate_generator(G, spec, job_state.extractor, job_state.reference, self.n_samples, g, seed=self.seed))
        except Exception as e:  # a metric failure must never stop training
            self._publish(job, "metrics_status",
                          {"step": step, "message": f"evaluation failed: {type(e).__name__}: {e}"})
            return
        kept = str(rundir.step_checkpoint(os.path.dirname(path), step))  # last.pt is overwritten later
        row = {"step": step, "checkpoint": kept if os.path.exists(kept) else path, **row}
        self._publish(job, "metrics", row)
        if row.get("diversity") is None:   # a translator judged without features: nothing to compare
            msg = None
        elif row.get("diversity_ratio") is not None:
            # conditional G: spread among samples asked for the same tags vs real ones (a G ignoring z)
            msg = job_state.monitor.observe_diversity_ratio(step, row["diversity_ratio"], evidence=row)
        elif row.get("diversity_within") is not None and row.get("diversity_within_real"):
            # conditional G: diversity among samples asked for the same tags (catches a G ignoring z)
            msg = job_state.monitor.observe_diversity(step, row["diversity_within"], row["diversity_within_real"],
                                               "the diversity of samples with the same tags", evidence=row)
        else:
            msg = job_state.monitor.observe_diversity(step, row["diversity"], row["diversity_real"], evidence=row)
        if msg is not None:
            self._publish(job, "alerts", dict(job_state.monitor.alerts[-1]))


_DEFAULT_LISTENER: Optional[MetricsListener] = None
_DEFAULT_LOCK = threading.Lock()


def install_default_listeners(manager: Any, every_n_steps: int = 500, n_samples: int = 256,
                              **kwargs: Any) -> MetricsListener:
    """Attach a :class:`MetricsListener` to a job manager (``gan_core.jobs.manager.get_manager()``) once; calling
    it again returns the listener already attached (safe to call on every Streamlit rerun; the
    arguments of later calls are ignored). ``kwargs`` go to :class:`MetricsListener` (seed, device,
    inception, write_file). Results: ``job.snapshot().extras["metrics" | "alerts" |
    "metrics_status"]`` and ``<run_dir>/eval_metrics.jsonl`` (:func:`load_eval_metrics`)."""
    global _DEFAULT_LISTENER
    with _DEFAULT_LOCK:
        for fn in manager.listeners:
            if isinstance(fn, MetricsListener):
                return fn
        listener = MetricsListener(every_n_steps=every_n_steps, n_samples=n_samples, **kwargs)
        manager.add_listener(listener)
        _DEFAULT_LISTENER = listener
        return listener
