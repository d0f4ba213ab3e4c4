"""The studio's pages, declared once: title, icon, one-line blurb and where each front end keeps the page.

Streamlit's navigation (app.py), the Gradio tabs (apps/gradio/app.py) and the Home page's cards all iterate
:data:`PAGES`, so adding a page is one entry here plus one module per front end."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class PageSpec:
    key: str                     # the route: Streamlit's url path and the Gradio tab id
    title: str
    icon: str                    # a Material icon in Streamlit's ":material/name:" form
    blurb: str                   # what the page does (Home's card)
    streamlit: str               # the page script, relative to the repo root
    gradio: Optional[str] = None  # the tab's module in apps.gradio (None: no Gradio tab)


def _view(name: str) -> str:
    return f"apps/streamlit/views/{name}.py"


HOME = PageSpec("home", "Home", ":material/home:", "What the studio does and the run that is training now.",
                _view("home"))

PAGES: tuple[PageSpec, ...] = (
    PageSpec("train", "Train", ":material/model_training:",
             "Dataset, architecture, loss and optimiser; live curves, samples, pause/stop, learning rate and "
             "n_critic changes while it runs.", _view("train"), "train"),
    PageSpec("generate", "Generate", ":material/grid_view:",
             "Sample grids from any checkpoint by seed; pick hair/eye tags; see the same z with every tag; "
             "download PNGs.", _view("generate"), "generate"),
    PageSpec("interpolate", "Interpolate", ":material/animation:",
             "Walk between two seeds or tag sets (lerp/slerp), download an animated GIF; latent arithmetic "
             "z1 - z2 + z3.", _view("interpolate"), "interpolate"),
    PageSpec("compare", "Compare", ":material/compare:",
             "Overlay the curves and final grids of several runs, e.g. NS vs LSGAN vs WGAN-GP.",
             _view("compare"), "compare"),
    PageSpec("lab2d", "2D lab", ":material/scatter_plot:",
             "D's surface and G's gradients on 2D points, live: mode collapse and the losses' differences at a glance.",
             _view("lab2d"), "lab2d"),
    PageSpec("style", "Style", ":material/brush:",
             "Neural style transfer (Gatys et al.): repaint a content picture in the style of another with VGG19.",
             _view("style"), "style"),
    PageSpec("sketch", "Sketch", ":material/draw:",
             "Draw edges (and colour dabs) and a pix2pix generator turns them into a face as you draw.",
             _view("sketch"), "sketch"),
    PageSpec("checkpoints", "Checkpoints", ":material/folder_open:",
             "List, download, upload (validated, never unpickled) and delete checkpoint files.",
             _view("checkpoints"), "checkpoints"),
)

PAGE = {p.key: p for p in PAGES}
