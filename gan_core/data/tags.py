"""Hair and eye colour tags of the anime-faces data (the 12 + 11 tags of Jin et al., 2017), and tag
text for any labelled data (:func:`parse_tags_for`: ``"cat"``, ``"hair=blue, eye=red"``)."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

HAIR_COLORS: tuple[str, ...] = (
    "orange", "white", "aqua", "gray", "green", "red",
    "purple", "pink", "blue", "black", "brown", "blonde",
)
EYE_COLORS: tuple[str, ...] = (
    "gray", "black", "orange", "pink", "yellow", "aqua",
    "purple", "green", "brown", "red", "blue",
)


def parse_tags(text: str) -> tuple[int, int]:
    """Parse ``"blue hair, red eyes"`` into (hair index, eye index).

    Raises ValueError naming the unknown tag; both tags are required.
    """
    hair = eye = None
    for raw in text.replace(";", ",").split(","):
        t = raw.strip().lower()
        if not t:
            continue
        words = t.split()
        if len(words) == 2 and words[1] == "hair":
            if words[0] not in HAIR_COLORS:
                raise ValueError(f"unknown hair colour {words[0]!r}; choose from {', '.join(HAIR_COLORS)}")
            hair = HAIR_COLORS.index(words[0])
        elif len(words) == 2 and words[1] in ("eyes", "eye"):
            if words[0] not in EYE_COLORS:
                raise ValueError(f"unknown eye colour {words[0]!r}; choose from {', '.join(EYE_COLORS)}")
            eye = EYE_COLORS.index(words[0])
        else:
            raise ValueError(f"cannot read tag {raw.strip()!r}: write tags like 'blue hair, red eyes'")
    if hair is None or eye is None:
        raise ValueError("give one hair and one eye colour, e.g. 'blue hair, red eyes'")
    return hair, eye


# ---- tags of any labelled data (CIFAR-10 classes, Hugging Face label columns, ...) -------------------
RANDOM = "random"     # the class word for "pick at random" (parse_tags_for's allow_random)


def _norm(s: str) -> str:
    return " ".join(str(s).strip().lower().split())


def _choices(classes: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(classes[:limit])
    return shown + (f", ... ({len(classes)} in all)" if len(classes) > limit else "")


def _group_pairs(groups: Iterable[Any]) -> list[tuple[str, tuple[str, ...]]]:
    """(name, classes) pairs from LabelGroup-like objects or (name, classes) tuples."""
    out = []
    for g in groups:
        if hasattr(g, "classes"):
            out.append((str(g.name), tuple(str(c) for c in g.classes)))
        else:
            name, classes = g
            out.append((str(name), tuple(str(c) for c in classes)))
    return out


def parse_tags_for(groups: Iterable[Any], text: str, require_all: bool = True,
                   allow_random: bool = False) -> tuple[Optional[int], ...]:
    """Parse tag text into one class index per label group, for any label groups.

    ``groups``: LabelGroup objects or ``(name, class names)`` pairs. Items are separated by commas
    (or semicolons); each item is ``group=class`` (or ``group: class``), ``class group`` (as in
    ``blue hair, red eyes``; a plural ``s`` on the group name is allowed) or a bare class name, which
    must belong to exactly one group that is not given yet (``cat`` for CIFAR-10). Matching ignores
    case and extra spaces. With ``require_all`` every group needs a class; otherwise missing ones are
    None. With ``allow_random`` a group's class may be ``random`` (``random hair``, ``hair=random``): it is
    given, as None (a random pick). Raises ValueError naming what is wrong and listing the valid names.
    """
    pairs = _group_pairs(groups)
    if not pairs:
        raise ValueError("this data has no tags: tag text cannot be used")
    names = [_norm(n) for n, _ in pairs]
    lookup = [{_norm(c): i for i, c in reversed(list(enumerate(classes)))} for _, classes in pairs]
    out: list[Optional[int]] = [None] * len(pairs)
    randoms: set[int] = set()    # groups given as "random"

    def group_index(word: str) -> Optional[int]:
        w = _norm(word)
        for cand in (w, w[:-1] if w.endswith("s") else None):
            if cand and cand in names:
                return names.index(cand)
        return None

    def assign(g: int, value: str, raw: str) -> None:
        v = _norm(value)
        if allow_random and v == RANDOM and v not in lookup[g]:
            if out[g] is not None:
                raise ValueError(f"{pairs[g][0]} is given twice in {text.strip()!r}")
            randoms.add(g)
            return
        if g in randoms:
            raise ValueError(f"{pairs[g][0]} is given twice in {text.strip()!r}")
        if v not in lookup[g]:
            name, classes = pairs[g]
            raise ValueError(f"unknown {name} {value.strip()!r} in {raw!r}; choose from {_choices(classes)}")
        if out[g] is not None and out[g] != lookup[g][v]:
            raise ValueError(f"{pairs[g][0]} is given twice in {text.strip()!r}")
        out[g] = lookup[g][v]

    for raw in text.replace(";", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        sep = "=" if "=" in item else (":" if ":" in item else None)
        if sep:
            key, value = item.split(sep, 1)
            g = group_index(key)
            if g is None and not any(_norm(item) in lu for lu in lookup):
                raise ValueError(f"unknown tag group {key.strip()!r} in {item!r}; the groups are "
                                 f"{', '.join(n for n, _ in pairs)}")
            if g is not None:
                assign(g, value, item)
                continue
        v = _norm(item)
        owners = [g for g in range(len(pairs)) if v in lookup[g]]
        free = [g for g in owners if out[g] is None]
        if len(free) == 1 or (len(owners) == 1):
            assign((free or owners)[0], item, item)
            continue
        if len(free) > 1:
            raise ValueError(f"{item!r} is a class of {', '.join(pairs[g][0] for g in free)}: write "
                             f"{pairs[free[0]][0]}={item}")
        words = item.rsplit(None, 1)
        if len(words) == 2 and group_index(words[1]) is not None:  # "blue hair", "red eyes"
            assign(group_index(words[1]), words[0], item)
            continue
        if len(pairs) == 1:
            raise ValueError(f"unknown {pairs[0][0]} {item!r}; choose from {_choices(pairs[0][1])}")
        listing = "; ".join(f"{n}: {_choices(c, 20)}" for n, c in pairs)
        raise ValueError(f"unknown tag {item!r}: write group=class ({listing})")
    missing = [pairs[g][0] for g in range(len(pairs)) if out[g] is None and g not in randoms]
    if require_all and missing:
        example = ", ".join(f"{n}={c[0]}" for n, c in pairs)
        raise ValueError(f"give a class for {', '.join(missing)} (e.g. {example!r})")
    return tuple(out)


def format_tags_for(groups: Iterable[Any], indices: Sequence[int]) -> str:
    """``"hair=blue, eye=red"`` (or just ``"cat"`` for one group): the inverse of parse_tags_for."""
    pairs = _group_pairs(groups)
    if len(pairs) == 1:
        return pairs[0][1][int(indices[0])]
    return ", ".join(f"{n}={c[int(i)]}" for (n, c), i in zip(pairs, indices))
