"""What every command of the terminal front end shares: exit codes, the one-line error, image formats."""
from __future__ import annotations

import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def err(msg: str) -> None:
    """``error: <msg>`` on stderr: one line, no traceback."""
    sys.stderr.write(f"error: {msg}\n")
