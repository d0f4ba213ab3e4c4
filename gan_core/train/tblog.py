"""TensorBoard event files beside metrics.jsonl, so that ``tensorboard --logdir runs`` shows every run.

A run folder's ``tb/`` (:func:`gan_core.storage.rundir.tensorboard_dir`) gets, through ``torch.utils.tensorboard``:

* the scalars of every StepEvent (the rows of metrics.jsonl), at the same steps, under the tags of
  :data:`SCALARS` plus ``extra/<name>`` for the loss terms of ``StepEvent.extra``;
* the fixed-noise sample grid (tag ``samples``) every time the trainer makes one;
* the hyper-parameters: the flattened RunConfig, in the HParams dashboard (metrics: the two losses).

TensorBoard must never stop training: when the ``tensorboard`` package is missing or a write fails,
:class:`TBLog` turns itself off and leaves one note (:meth:`TBLog.take_notes`); metrics.jsonl and the
sample PNGs are written as before. A resumed run purges the steps after its checkpoint from the old
event files (``purge_step``), as metrics.jsonl drops its lines after that step.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import numpy as np

from gan_core.config import envvars
from gan_core.storage import rundir
from gan_core.config import RunConfig, flatten
from gan_core.train.events import StatusEvent, StepEvent

ENV = envvars.TENSORBOARD.name   # "0": no event files
IMAGE_TAG = "samples"
SCALARS = {   # StepEvent field -> TensorBoard tag
    "d_loss": "loss/D", "g_loss": "loss/G", "d_real": "D_output/real", "d_fake": "D_output/fake",
    "grad_norm_d": "grad_norm/D", "grad_norm_g": "grad_norm/G", "lr_g": "lr/G", "lr_d": "lr/D",
    "lr_scale": "lr/decay_factor", "n_critic": "train/n_critic", "img_per_s": "train/img_per_s",
}
EXTRA_PREFIX = "extra/"
HPARAM_METRICS = ("loss/D", "loss/G")


def scalar_values(row: Mapping[str, Any]) -> dict[str, float]:
    """The TensorBoard scalars of one StepEvent (or one metrics.jsonl row): tag -> value."""
    out = {tag: float(row[k]) for k, tag in SCALARS.items() if isinstance(row.get(k), (int, float))}
    out.update({EXTRA_PREFIX + k: float(v) for k, v in (row.get("extra") or {}).items()
                if isinstance(v, (int, float))})
    return out


def hparam_values(cfg: RunConfig) -> dict[str, Any]:
    """The flattened config as TensorBoard hparams: numbers, strings and bools as they are, the rest as text."""
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flatten(cfg.to_dict()).items()}


class TBLog:
    """One run's TensorBoard writer; off (every method does nothing) without a run folder, with
    ``$GAN_STUDIO_TENSORBOARD=0``, or after the first error, which leaves one note."""

    def __init__(self, run_dir: Optional[Path], cfg: Optional[RunConfig] = None, step: int = 0) -> None:
        self.writer: Any = None
        self.logdir: Optional[Path] = None
        self._notes: list[str] = []
        if run_dir is None or os.environ.get(ENV, "1").strip() == "0":
            return
        self.logdir = rundir.tensorboard_dir(run_dir)
        self._guard("start", lambda: self._open(self.logdir, cfg, step))

    @property
    def on(self) -> bool:
        return self.writer is not None

    def _open(self, logdir: Path, cfg: Optional[RunConfig], step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter   # needs the tensorboard package
        from torch.utils.tensorboard.summary import hparams

        # a resumed run (step > 0) hides the old files' steps after its checkpoint, as metrics.jsonl does
        self.writer = SummaryWriter(str(logdir), purge_step=step + 1 if step > 0 else None, flush_secs=30)
        if cfg is not None:
            fw = self.writer._get_file_writer()   # in this run's event file (add_hparams makes a sub-run)
            for summary in hparams(hparam_values(cfg), {m: 0.0 for m in HPARAM_METRICS}):
                fw.add_summary(summary, global_step=step)
        self.writer.flush()

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        if self.writer is None and what != "start":
            return
        try:
            fn()
        except Exception as e:  # never stops training: TensorBoard goes off, with one note
            writer, self.writer = self.writer, None
            self._notes.append(f"TensorBoard logging is off: could not {what} ({type(e).__name__}: {e}); "
                               "metrics.jsonl and the sample grids are still written")
            if writer is not None:
                try:
                    writer.close()
                except Exception:
                    pass

    def scalars(self, ev: StepEvent) -> None:
        """The StepEvent's scalars at its step (flushed, so a running TensorBoard sees them)."""
        def write() -> None:
            for tag, v in scalar_values(ev.to_dict()).items():
                self.writer.add_scalar(tag, v, ev.step)
            self.writer.flush()
        self._guard("write the scalars", write)

    def image(self, step: int, img: np.ndarray) -> None:
        """A sample grid, (H, W, 3) uint8."""
        def write() -> None:
            self.writer.add_image(IMAGE_TAG, img, step, dataformats="HWC")
            self.writer.flush()
        self._guard("write a sample grid", write)

    def take_notes(self) -> list[str]:
        """Notes not yet handed out (at most one: why TensorBoard went off)."""
        notes, self._notes = self._notes, []
        return notes

    def note_events(self, step: int) -> Iterator[StatusEvent]:
        """Pending notes as StatusEvents of a running trainer."""
        for n in self.take_notes():
            yield StatusEvent("running", step, n)

    def close(self) -> None:
        self._guard("close the event file", lambda: self.writer.close())
        self.writer = None

    def __del__(self) -> None:   # a trainer whose events were abandoned mid-run
        try:
            if self.writer is not None:
                self.writer.close()
        except Exception:
            pass
