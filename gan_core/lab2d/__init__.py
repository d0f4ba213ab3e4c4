"""The 2D lab: a lean GAN loop on 2D toy data that exposes what image runs cannot show.

GAN Lab (Kahng et al. 2018) style: real and generated points in the plane, D's output over the plane
(a small ``grid x grid`` array, in the loss's own scale) and G's gradient field (``-dL_G/dx`` at the
current fakes). Everything here is plain PyTorch / NumPy; the UI only draws the arrays.

* ``settings``: :class:`LabConfig` and the fields that change a running lab (:data:`LIVE_FIELDS`).
* ``fields``: :func:`d_surface`, :func:`g_gradient_field`, :func:`surface_scale`, pure functions on any
  D with the project's signature ``D(x (B, 2), labels) -> (adv (B,), aux)``, and :func:`mode_coverage`:
  modes covered (within ``n_sigma`` std of a centre) and the share of high-quality samples, as in the
  unrolled-GAN (Metz et al. 2017) and VEEGAN (Srivastava et al. 2017) papers.
* ``loop``: :class:`Lab2D`, the training loop (losses, penalties, constraints and targets from
  :mod:`gan_core.losses`, the ``mlp`` models, ``toy2d`` data); :meth:`Lab2D.update` changes loss,
  learning rates, n_critic, batch size or the data shape between two steps.
* ``runner``: :class:`LabRunner` trains a :class:`Lab2D` in a child process and hands the newest
  :class:`LabFrame` to the view; :func:`get_lab_manager` keeps one runner per owner (browser).
* ``presets``: teaching notes per loss, :data:`LAB_PRESETS` with :func:`run_preset`: classic
  pictures, each with what it should show and a metric check.
"""
from gan_core.lab2d.fields import (ARROW_LOG_RANGE, ARROW_SCALE_NOTE, DFn, ModeCoverage, arrow_ends, d_surface, g_gradient_field, mode_coverage, plane_grid, shape_modes,
                     surface_scale)
from gan_core.lab2d.loop import Lab2D, LabFrame, LeanAdam
from gan_core.lab2d.presets import (LAB_PRESETS, SCALE_NOTES, TEACHING_NOTES, LabPreset, PresetResult, check_expectations,
                      run_preset, teaching_note)
from gan_core.lab2d.runner import LabBusyError, LabManager, LabRunner, get_lab_manager
from gan_core.lab2d.settings import DRAWN, LAB_SHAPES, LIVE_FIELDS, MAX_DRAWN, POINTS_SPEC, LabConfig

__all__ = [
    "ARROW_LOG_RANGE", "ARROW_SCALE_NOTE", "arrow_ends", "DFn", "ModeCoverage", "d_surface", "g_gradient_field", "mode_coverage", "plane_grid", "shape_modes",
    "surface_scale", "Lab2D", "LabFrame", "LeanAdam", "LAB_PRESETS", "SCALE_NOTES", "TEACHING_NOTES", "LabPreset",
    "PresetResult", "check_expectations", "run_preset", "teaching_note", "LabBusyError", "LabManager", "LabRunner",
    "get_lab_manager", "DRAWN", "LAB_SHAPES", "LIVE_FIELDS", "MAX_DRAWN", "POINTS_SPEC", "LabConfig",
]
