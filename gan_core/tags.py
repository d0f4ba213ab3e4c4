"""Hair and eye colour tags of the anime-faces data (the 12 + 11 tags of Jin et al., 2017)."""
from __future__ import annotations

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


def format_tags(hair: int, eye: int) -> str:
    return f"{HAIR_COLORS[hair]} hair, {EYE_COLORS[eye]} eyes"
