"""The dataset registry: every dataset the trainer can load and what that implies, in one place.

A :class:`DatasetSpec` knows its loader, whether its data have tags or come as (input, target) pairs, 2D
points or images, which settings matter for it, which recipe suits it, and which shipped classifier judges
it. The config's ``data.dataset`` choices, the loader dispatch (``gan_core.data.load_dataset``), the forms'
fields (``gan_core.studio.form``), the recipes (``gan_core.train.recipes.recipe_for``), the checks and the CLI
all read it; nothing else lists dataset names.

Adding a torchvision dataset: its entry in ``gan_core.data.torchvision_sets.TORCHVISION_SETS`` and one
:class:`DatasetSpec` here. Another source: its loader module and one entry here.

This module imports nothing from gan_core (a loader is imported when its data are loaded), so
``gan_core.config`` may ask it about a dataset.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

IMAGE_FIELDS = frozenset({"data.image_size", "data.augment_flip", "data.augment_rotate", "data.max_images",
                          "data.diffaugment", "loss.ms_weight"})   # settings that matter for every image set
POINT_FIELDS = frozenset({"data.toy_shape", "data.num_samples"})
PAIR_LOADER = ".edges:load_paired"   # fn(cfg, kind, progress) -> PairedDataset


def _function(ref: str) -> Callable[..., Any]:
    module, _, fn = ref.partition(":")
    return getattr(importlib.import_module(module, "gan_core.data"), fn)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    loader: str                        # "module:function" relative to gan_core.data: fn(cfg, progress) -> ImageDataset
    channels: Optional[int] = 3        # of its pictures (None: depends on the files; 2D points: None)
    points: bool = False               # 2D points (toy2d), not images
    labelled: Optional[bool] = True    # it has tags (None: not known before loading)
    labels_field: str = ""             # the data setting that gives it tags ("tags_csv"); empty: fixed
    paired: bool = False               # always (input, target) pairs (pix2pix data)
    pairable: bool = False             # pairs when ``data.pairs`` is set (a folder)
    needs_path: bool = False           # ``data.path`` names the data
    recipe: str = "tagged"             # gan_core.train.recipes.RECIPES key for its tagged (or paired) data
    tagged_by_default: bool = False    # recipe_for(tagged=None) takes the tagged recipe
    classifier: Optional[str] = None   # the shipped classifier that judges it (gan_core.metrics.classifiers)
    fields: frozenset[str] = frozenset()   # settings that matter for it besides IMAGE_FIELDS / POINT_FIELDS

    def load(self, cfg: Any, progress: Optional[Callable] = None) -> Any:
        """The data (an ImageDataset); paired data through ``loader(cfg, kind, progress)`` where kind is
        the dataset's name, or for a pairable one ``data.pairs`` ('ab': "pairs", 'edges': "edges")."""
        if self.is_paired(cfg):
            kind = self.name if self.paired else {"ab": "pairs", "edges": "edges"}[cfg.pairs]
            return _function(PAIR_LOADER)(cfg, kind, progress)
        return _function(self.loader)(cfg, progress)

    def is_labelled(self, cfg: Any) -> Optional[bool]:
        """Whether data made with DataConfig ``cfg`` have tags (None: not known before loading)."""
        if not self.labels_field:
            return self.labelled
        return True if str(getattr(cfg, self.labels_field) or "").strip() else self.labelled

    def is_paired(self, cfg: Any) -> bool:
        """Whether data made with DataConfig ``cfg`` are (input, target) pairs for pix2pix."""
        return self.paired or (self.pairable and bool(cfg.pairs))

    def relevant_fields(self) -> frozenset[str]:
        return (POINT_FIELDS if self.points else IMAGE_FIELDS) | self.fields

    def problem(self, cfg: Any) -> Optional[tuple[str, str]]:
        """The first rule for this dataset that DataConfig ``cfg`` breaks, as (field, message), or None
        (``DataConfig._check`` raises it as a ConfigError)."""
        if not self.points and cfg.image_size not in (16, 32, 64):
            return "data.image_size", f"must be 16, 32 or 64, got {cfg.image_size!r}"
        if cfg.pairs and not self.pairable:
            pairable = " or ".join(f"'{n}'" for n, s in DATASETS.items() if s.pairable)
            return "data.pairs", f"applies to dataset {pairable} only, not '{self.name}'"
        if self.needs_path and not cfg.path:
            return "data.path", f"is required when data.dataset is '{self.name}'"
        return None


_TV = dict(loader=".torchvision_sets:load_torchvision", recipe="tagged")
_SIZE = frozenset({"data.num_samples"})

DATASETS: dict[str, DatasetSpec] = {
    "faces": DatasetSpec("faces", "Anime-style faces (made offline, hair and eye tags)", ".faces:load_faces",
                         tagged_by_default=True, classifier="faces", fields=_SIZE),
    "faces-edges": DatasetSpec("faces-edges", "Faces paired with their edges (pix2pix)", PAIR_LOADER,
                               paired=True, recipe="pix2pix", classifier="faces", fields=_SIZE),
    "digits": DatasetSpec("digits", "Handwritten digits (scikit-learn, offline)", ".digits:load_digits", channels=1,
                          recipe="digits", tagged_by_default=True, classifier="digits"),
    "mnist": DatasetSpec("mnist", "MNIST (torchvision download)", channels=1, **_TV),
    "fashion-mnist": DatasetSpec("fashion-mnist", "Fashion-MNIST (torchvision download)", channels=1, **_TV),
    "cifar10": DatasetSpec("cifar10", "CIFAR-10 (torchvision download)", **_TV),
    "folder": DatasetSpec("folder", "A folder or .zip of your images", ".folder:load_folder", channels=None,
                          labelled=None, labels_field="tags_csv", pairable=True, needs_path=True,
                          fields=frozenset({"data.path", "data.tags_csv", "data.pairs"})),
    "hf": DatasetSpec("hf", "A Hugging Face dataset", ".hf:load_hf", channels=None, labelled=False,
                      labels_field="hf_label_columns", needs_path=True,
                      fields=frozenset({"data.path", "data.hf_split", "data.hf_image_column", "data.hf_label_columns"})),
    "toy2d": DatasetSpec("toy2d", "2D toy points", ".toy2d:load_toy2d", channels=None, points=True, labelled=False),
}


def unknown_dataset(name: str) -> str:
    """What ``data.dataset`` says when ``name`` is not in the registry."""
    return f"must be one of {', '.join(DATASETS)}; got {name!r}"
