"""The settings and columns of a Hugging Face dataset: which column holds the images, which become tag
groups (class-label, short text, integer or boolean columns) and their limits: the front half of :mod:`.hf`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from gan_core.config import DataConfig
from gan_core.data.base import DataError, LabelGroup
from gan_core.data.folder import _examples, _Skip

MAX_CLASSES = 1000        # classes of one tag group (ImageNet-1k still fits)
MAX_LABEL_CHARS = 100     # characters of one class name read from a string column
_TEXT = ("string", "large_string")
_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_BINARY = ("binary", "large_binary")


# ---- settings --------------------------------------------------------------------------------------
def parse_label_columns(text: Any) -> tuple[str, ...]:
    """``"hair, eye"`` -> ("hair", "eye"); raises DataError on a repeated name."""
    names = tuple(c.strip() for c in str(text or "").split(",") if c.strip())
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise DataError(f"data.hf_label_columns names {', '.join(dup)} twice")
    return names


@dataclass(frozen=True)
class HFSettings:
    path: str
    split: str = "train"
    image_column: str = ""
    label_columns: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: DataConfig) -> "HFSettings":
        return cls(path=str(cfg.path or "").strip(),
                   split=str(getattr(cfg, "hf_split", "train") or "train").strip(),
                   image_column=str(getattr(cfg, "hf_image_column", "") or "").strip(),
                   label_columns=parse_label_columns(getattr(cfg, "hf_label_columns", "")))


# ---- columns ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HFColumn:
    """A column of the dataset as the studio sees it."""

    name: str
    kind: str      # "image", "class label", "text", "integer", "boolean", "binary" or "other"
    detail: str    # e.g. "10 classes: airplane, automobile, ..." or the library's type

    @property
    def usable_as_image(self) -> bool:
        return self.kind in ("image", "binary")

    @property
    def usable_as_tags(self) -> bool:
        return self.kind in ("class label", "text", "integer", "boolean")


def _column(name: str, feat: Any) -> HFColumn:
    import datasets

    if isinstance(feat, datasets.Image):
        return HFColumn(name, "image", "image")
    if isinstance(feat, datasets.ClassLabel):
        return HFColumn(name, "class label", f"{feat.num_classes} classes: {_examples(list(feat.names), 8)}")
    if isinstance(feat, datasets.Value):
        dtype = str(feat.dtype)
        kind = ("text" if dtype in _TEXT else "integer" if dtype in _INTS else "boolean" if dtype == "bool"
                else "binary" if dtype in _BINARY else "other")
        return HFColumn(name, kind, dtype)
    if isinstance(feat, dict) and "bytes" in feat:  # an image stored as a {bytes, path} struct
        return HFColumn(name, "binary", "struct with image bytes")
    return HFColumn(name, "other", type(feat).__name__)


def describe_columns(features: Any) -> list[HFColumn]:
    """Every column of a ``datasets.Features`` mapping, in order."""
    return [_column(str(k), v) for k, v in (features or {}).items()]


def _listing(columns: Sequence[HFColumn]) -> str:
    return ", ".join(f"{c.name} ({c.kind})" for c in columns) or "none"


@dataclass
class _LabelSpec:
    """How one label column becomes class indices."""

    name: str
    kind: str                       # "class label" | "text" | "integer" | "boolean"
    classes: tuple[str, ...] = ()   # the dataset's class names (class label columns only)
    seen: set = field(default_factory=set)

    def value(self, row: dict) -> Any:
        v = row.get(self.name)
        if v is None or (self.kind == "class label" and int(v) < 0):  # ClassLabel marks missing as -1
            raise _Skip(f"no value in label column {self.name!r}")
        if self.kind == "class label":
            if int(v) >= len(self.classes):
                raise _Skip(f"class index out of range in label column {self.name!r}")
            return int(v)
        if self.kind == "text":
            v = " ".join(str(v).split())
            if not v:
                raise _Skip(f"no value in label column {self.name!r}")
            if len(v) > MAX_LABEL_CHARS:
                raise DataError(f"label column {self.name!r} holds text of {len(v)} characters: it looks like "
                                f"free text, not a class; choose class-label or short text columns in "
                                f"data.hf_label_columns")
        elif self.kind == "boolean":
            v = "true" if v else "false"
        else:
            v = int(v)
        if v not in self.seen:
            self.seen.add(v)
            if len(self.seen) > MAX_CLASSES:
                raise DataError(f"label column {self.name!r} has more than {MAX_CLASSES} distinct values: it "
                                f"is not a tag; choose other columns in data.hf_label_columns")
        return v

    def group(self, values: Sequence[Any]) -> tuple[LabelGroup, list[int]]:
        """The label group and the class index of each value."""
        if self.kind == "class label":
            return LabelGroup(self.name, self.classes), [int(v) for v in values]
        vocab = sorted(set(values))
        index = {v: i for i, v in enumerate(vocab)}
        return LabelGroup(self.name, tuple(str(v) for v in vocab)), [index[v] for v in values]


def _resolve_columns(features: Any, s: HFSettings, where: str) -> tuple[str, list[_LabelSpec], list[HFColumn]]:
    """(image column, label specs, all columns) for the settings; DataError naming a bad column."""
    cols = describe_columns(features)
    by_name = {c.name: c for c in cols}
    if s.image_column:
        c = by_name.get(s.image_column)
        if c is None:
            raise DataError(f"data.hf_image_column: {where} has no column {s.image_column!r}; "
                            f"its columns: {_listing(cols)}")
        if not c.usable_as_image:
            raise DataError(f"data.hf_image_column: column {c.name!r} of {where} holds {c.kind} values, not "
                            f"images; its columns: {_listing(cols)}")
        image = c.name
    else:
        found = [c.name for c in cols if c.kind == "image"] or [c.name for c in cols if c.kind == "binary"]
        if not found:
            raise DataError(f"{where} has no image column (its columns: {_listing(cols)}): this source needs "
                            f"images; set data.hf_image_column if one holds encoded image bytes")
        image = found[0]
    specs = []
    for name in s.label_columns:
        c = by_name.get(name)
        if c is None:
            raise DataError(f"data.hf_label_columns: {where} has no column {name!r}; tag columns: "
                            f"{_listing([x for x in cols if x.usable_as_tags])}")
        if name == image or not c.usable_as_tags:
            what = c.detail if c.kind == "other" else c.kind
            raise DataError(f"data.hf_label_columns: column {name!r} of {where} holds {what} values and cannot be "
                            f"a tag; tag columns: {_listing([x for x in cols if x.usable_as_tags])}")
        classes = tuple(str(n) for n in features[name].names) if c.kind == "class label" else ()
        if len(classes) > MAX_CLASSES:
            raise DataError(f"label column {name!r} has {len(classes)} classes (at most {MAX_CLASSES})")
        specs.append(_LabelSpec(name, c.kind, classes))
    return image, specs, cols
