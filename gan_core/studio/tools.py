"""What both front ends' Generate, 2D lab, Sketch, Checkpoints and Style views share, as plain data (no UI
toolkit): the tag sweep's note, the 2D lab's shape names, preset notes and form config, the Sketch pad's
starting picture, exporting a run's generator for a visitor, and VGG19 loading (one behaviour for both)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

# ---- Generate: the tag sweep -------------------------------------------------------------------------------
SWEEP_TITLE = "Same z, change one tag"
SWEEP_NOTE = ("Each row keeps one noise vector z; each column sets the chosen tag to another class while the "
              "other tags stay as selected above. Columns should differ only in that tag.")


def sweep_caption(seed: int, group_name: str) -> str:
    return f"seed {seed} · rows: z · columns: {group_name}"


# ---- the 2D lab --------------------------------------------------------------------------------------------
SHAPE_NAMES: dict[str, str] = {"8gaussians": "8 Gaussians on a ring", "25gaussians": "25 Gaussians on a grid",
                               "moons": "Two moons", "ring": "Ring", "spiral": "Spiral"}
# how a visitor adds points differs per front end (click the plot / click the pad): one label each
DRAWN_LABELS: dict[str, str] = {"streamlit": "Your points (click to add)", "gradio": "Your points (click the pad)"}
CUSTOM_PRESET = "custom"
CUSTOM_TITLE = "Custom (runs until stopped)"
LAB_WIDGETS: dict[str, str] = {"shape": "shape", "loss": "loss.name", "lr_g": "train.lr_g", "lr_d": "train.lr_d",
                               "n_critic": "train.n_critic", "batch": "train.batch_size",
                               "optimizer": "train.optimizer"}   # widget -> dotted LabConfig field (all live)


def shape_names(front: str) -> dict[str, str]:
    """Every 2D lab data shape -> its name on ``front`` ("streamlit" or "gradio")."""
    from gan_core.lab2d import DRAWN, LAB_SHAPES

    names = {**SHAPE_NAMES, DRAWN: DRAWN_LABELS[front]}
    return {s: names.get(s, s) for s in LAB_SHAPES}


def lab_preset_choices() -> list[tuple[str, str]]:
    """(title, key) of every 2D lab preset, then Custom."""
    from gan_core.lab2d import LAB_PRESETS

    return [(p.title, k) for k, p in LAB_PRESETS.items()] + [(CUSTOM_TITLE, CUSTOM_PRESET)]


def lab_preset_note(preset: Optional[str]) -> str:
    """What a preset should show and how it is checked (Markdown); Custom says what it is."""
    from gan_core.lab2d import LAB_PRESETS

    p = LAB_PRESETS.get(preset or "")
    if p is None:
        return "Custom: your settings, runs until stopped."
    checks = ", ".join(f"{k.replace('_', ' ')} in [{lo:g}, {hi:g}]" for k, (lo, hi) in p.expect.items())
    return (f"**What it should show:** {p.shows}\n\n**Checked by:** {checks} after {p.steps} steps "
            "(2500 samples, within 3 std of a mode).")


def lab_form_values(cfg: Any) -> dict[str, Any]:
    """The 2D lab form's widget values of a LabConfig."""
    out = {}
    for w, f in LAB_WIDGETS.items():
        sec, _, name = f.rpartition(".")
        out[w] = getattr(getattr(cfg, sec) if sec else cfg, name)
    return out


def lab_coerce(field: str, v: Any) -> Any:
    """A 2D lab widget's value as its LabConfig field wants it (a form's numbers may come as floats)."""
    if field in ("train.n_critic", "train.batch_size"):
        return int(v)
    if field.startswith("train.lr"):
        return float(v)
    return v


def lab_form_config(preset: Optional[str], values: Mapping[str, Any], drawn: Sequence[Sequence[float]] = ()) -> Any:
    """The LabConfig the form describes: the preset's model settings (Custom: the lab's defaults and no
    step limit), the widgets' values (by widget name) and the drawn points."""
    from gan_core.lab2d import LAB_PRESETS, LabConfig

    p = LAB_PRESETS.get(preset or "")
    base = p.config() if p is not None else LabConfig()
    changes: dict[str, Any] = {f: lab_coerce(f, values[w]) for w, f in LAB_WIDGETS.items()}
    changes["drawn"] = tuple(tuple(float(c) for c in v) for v in drawn or ())
    changes["train.steps"] = 100_000_000 if p is None else p.steps
    return base.replace(**changes)


# ---- Sketch: the pad's starting picture ----------------------------------------------------------------------
def sketch_start(G: Any, seed: int, dabs: int, scale: int) -> dict[str, Any]:
    """The pad's start for face ``seed``: ``lines`` (its edges, dark on light paper, enlarged ``scale``x),
    ``hints`` (the RGBA picture of ``dabs`` dabs of the face's true colours, enlarged; None without dabs
    or for a generator that takes no hints), ``shown`` (lines with the dabs painted over, what the pad
    shows), ``size`` (G's image size)."""
    from gan_core.img2img import translate
    from gan_core.data.hints import hint_overlay, hint_picture

    size = int(getattr(G, "image_size", 32))
    face, edges = translate.random_face_edges(int(seed or 0), size)
    lines = translate.enlarge(edges, scale)
    out: dict[str, Any] = {"lines": lines, "hints": None, "shown": lines, "size": size}
    if translate.takes_hints(G) and int(dabs or 0) > 0:   # the dabs travel apart from the lines (any colour)
        h = translate.face_hints(face, int(dabs), int(seed or 0))
        out["hints"] = np.repeat(np.repeat(hint_picture(h), scale, 0), scale, 1)
        out["shown"] = translate.enlarge(hint_overlay(edges, h), scale)
    return out


# ---- Sketch: an uploaded drawing or photo (both fronts' upload) -------------------------------------------------
SKETCH_UPLOAD_LABEL = "Edge drawing or photo (PNG, JPEG, WebP)"
SKETCH_PHOTO_LABEL = "It is a photo: compute its edges (Canny)"
SKETCH_PHOTO_HELP = ("Its edges are found at 4x the generator's size and thinned, which keeps more of the eyes, "
                     "nose and mouth than edges taken at the generator's size; small eyes can still merge into one "
                     "blob (draw them in on the pad). A photo-like upload is read as a photo even unticked.")


# ---- Checkpoints: export a run's generator -------------------------------------------------------------------
def export_generator_as(run_checkpoint: os.PathLike | str, out_name: str, folder: os.PathLike | str,
                        owner: str) -> Path:
    """Export a run's generator into the checkpoints ``folder`` as ``out_name`` and record ``owner`` as
    whose it is (so that visitor may delete it). Raises UploadError / CheckpointError / OSError."""
    from gan_core.jobs import sharing
    from gan_core.studio.files import export_run_generator

    p = export_run_generator(run_checkpoint, (out_name or "").strip() or Path(run_checkpoint).parent.name, folder)
    sharing.record_owner(folder, p.name, owner)
    return p


# ---- Style: VGG19 ----------------------------------------------------------------------------------------------
class VggLoader:
    """VGG19 for the Style views, one behaviour for both fronts: a local weights file (``$GAN_STUDIO_VGG19``
    or torch's hub cache) is loaded once per file version; otherwise torchvision downloads it once. When
    no weights can be had the reason is remembered, so the page can say it before the button is pressed
    and a click does not wait for another failing download; it is tried again after ``retry_s`` seconds
    or as soon as a local file appears. Thread-safe."""

    def __init__(self, retry_s: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._net: Any = None
        self._key: Optional[tuple] = None
        self._error: Optional[tuple[tuple, float, str]] = None   # (key, when, message)

    def _key_now(self) -> tuple:
        from gan_core.img2img import style as S

        path = S.local_weights()
        if not path:
            return ("download",)
        try:
            st = Path(path).expanduser().stat()
            return ("file", path, st.st_mtime_ns, st.st_size)
        except OSError:
            return ("file", path, 0, 0)

    def will_download(self) -> bool:
        """Whether loading would download (no local weights file)."""
        return self._key_now() == ("download",)

    def error(self) -> Optional[str]:
        """Why the weights could not be had at the last try (None when it may work now)."""
        key = self._key_now()
        with self._lock:
            e = self._error
            if e is None or e[0] != key or self._clock() - e[1] >= self.retry_s:
                return None
            return e[2]

    def notice(self) -> Optional[tuple[str, str]]:
        """(kind, text) to show before the button is pressed: ("error", why) after a failed try, ("info", a
        download will happen) with no local file; None when local weights are there."""
        from gan_core.img2img import style as S

        err = self.error()
        if err:
            return "error", err
        with self._lock:
            if self._net is not None and self._key == self._key_now():
                return None                      # downloaded (or loaded) already
        if self.will_download():
            return "info", (f"No local VGG19 weights ({S.ENV_VAR} is not set and torch's cache has no "
                            f"{S.VGG19_FILE}): torchvision will try to download them (548 MB) when you press "
                            "Stylize.")
        return None

    def network(self) -> Any:
        """The network (cached); raises WeightsUnavailable / StyleError with the remembered reason."""
        from gan_core.img2img import style as S

        key = self._key_now()
        err = self.error()
        if err:
            raise S.WeightsUnavailable(err)
        with self._lock:
            if self._net is not None and self._key == key:
                return self._net
            try:
                net = S.load_weights_file(key[1]) if key[0] == "file" else S.load_vgg19(download=True)
            except S.StyleError as e:
                self._error = (key, self._clock(), str(e))
                raise
            self._net, self._key, self._error = net, key, None
            return net


VGG = VggLoader()
