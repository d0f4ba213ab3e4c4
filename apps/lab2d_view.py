"""Plotly figures for the 2D lab, drawn from a gan_core.lab2d.LabFrame's arrays (no computation here
besides scaling the arrows for display)."""
from __future__ import annotations

import gc
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from gan_core.lab2d import ARROW_SCALE_NOTE, arrow_ends

SCALE_TITLES = {"probability": "D(x) (probability real)", "score": "D(x) (LSGAN score)", "critic": "critic D(x)"}
_GC_FROZEN = False
ARROW_LEN = 0.6      # display length of an arrow at the top of gan_core.lab2d's log scale, in plane units


def freeze_gc_once() -> None:
    """Move the objects alive now (imported modules: torch, plotly, streamlit) out of the garbage
    collector's sight, once per server process. Streamlit runs ``gc.collect(2)`` after every script
    run (``runner.postScriptGC``); with those libraries loaded that full collection cost ~150 ms per
    refresh of the lab's view, half a core at 3 refreshes a second."""
    global _GC_FROZEN
    if not _GC_FROZEN:
        gc.collect()
        gc.freeze()
        _GC_FROZEN = True


def arrow_segments(at: np.ndarray, vec: np.ndarray, max_len: float = ARROW_LEN) -> tuple[list, list, list]:
    """x, y and marker sizes of one line trace drawing every arrow (start, end, gap). Lengths show the absolute
    gradient on gan_core.lab2d's fixed log scale (the same in every frame and for every loss): an arrow whose
    gradient vanishes (below 1e-6) is not drawn at all."""
    if len(at) == 0:
        return [], [], []
    end = arrow_ends(at, vec, max_len)
    keep = np.linalg.norm(end - at, axis=1) > 1e-3 * max_len
    at, end = at[keep], end[keep]
    n = len(at)
    xs = np.empty(3 * n, dtype=object)
    ys = np.empty(3 * n, dtype=object)
    xs[0::3], xs[1::3], xs[2::3] = at[:, 0].round(4), end[:, 0].round(4), None
    ys[0::3], ys[1::3], ys[2::3] = at[:, 1].round(4), end[:, 1].round(4), None
    sizes = [0, 7, 0] * n
    return xs.tolist(), ys.tolist(), sizes


def lab_figure(frame, show_arrows: bool = True, drawn: Optional[Sequence[Sequence[float]]] = None,
               height: int = 560) -> go.Figure:
    """D's surface as a heatmap, real points, generated points and G's gradient arrows."""
    fig = go.Figure()
    probs = frame.scale == "probability"
    fig.add_trace(go.Heatmap(
        x=frame.xs.round(3), y=frame.ys.round(3), z=frame.surface.round(3), colorscale="RdBu_r" if probs else "Viridis",
        zmin=0.0 if probs else None, zmax=1.0 if probs else None, opacity=0.85, name="D",
        colorbar=dict(title=dict(text=SCALE_TITLES.get(frame.scale, "D(x)"), side="right"), thickness=12),
        hovertemplate="x %{x:.2f}, y %{y:.2f}<br>D %{z:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=frame.real[:, 0].round(3), y=frame.real[:, 1].round(3), mode="markers",
                               name="real", marker=dict(size=4, color="#111111", opacity=0.55), hoverinfo="skip"))
    if show_arrows and len(frame.arrows):   # under the generated points, so the arrows never hide them
        xs, ys, sizes = arrow_segments(frame.arrows_at, frame.arrows)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="-dL_G/dx (G's push)",
                                 line=dict(color="#00c853", width=1.2), opacity=0.8,
                                 marker=dict(symbol="arrow", angleref="previous", size=sizes, color="#00c853"),
                                 hoverinfo="skip"))
        fig.add_annotation(text=f"{ARROW_SCALE_NOTE}<br>mean |dL_G/dx| here: {frame.grad_norm:.2g}"
                                + (" (vanishing: no arrows)" if not xs else ""),
                           xref="paper", yref="paper", x=0.0, y=-0.055, xanchor="left", yanchor="top",
                           showarrow=False, font=dict(size=11, color="#333"), align="left")
    fig.add_trace(go.Scatter(x=frame.fake[:, 0].round(3), y=frame.fake[:, 1].round(3), mode="markers",
                               name="generated", marker=dict(size=5, color="#ff9f1c", line=dict(width=0.5, color="#333")),
                               hoverinfo="skip"))
    if drawn:
        d = np.asarray(drawn, dtype=float).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=d[:, 0], y=d[:, 1], mode="markers", name="drawn points",
                                 marker=dict(symbol="x", size=9, color="#d50000"), hoverinfo="skip"))
    e = float(max(abs(frame.xs[0]), abs(frame.xs[-1])))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=62), uirevision="lab",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0),
                      title=dict(text=f"step {frame.step}", x=1.0, xanchor="right", font=dict(size=13)))
    fig.update_xaxes(range=[-e, e], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-e, e], scaleanchor="x", scaleratio=1, constrain="domain", showgrid=False,
                     zeroline=False)
    return fig


def strip_figure(frame, height: int = 170) -> Optional[go.Figure]:
    """The strip of earlier frames a run keeps (``frame.strip``): the generated points of each, titled with its
    step and the modes it covers; None when the run keeps none."""
    strip = getattr(frame, "strip", None) or []
    if not strip:
        return None
    from plotly.subplots import make_subplots

    n_modes = frame.coverage.n_modes if frame.coverage is not None else None
    # two lines (step, then modes): eight one-line titles overlapped in the page's column
    titles = [f"step {s['step']}" + (f"<br>{s['modes_covered']}/{n_modes} modes" if n_modes else "") for s in strip]
    fig = make_subplots(rows=1, cols=len(strip), subplot_titles=titles, horizontal_spacing=0.01)
    e = float(max(abs(frame.xs[0]), abs(frame.xs[-1])))
    for i, s in enumerate(strip, start=1):
        fig.add_trace(go.Scatter(x=frame.real[:300, 0].round(3), y=frame.real[:300, 1].round(3), mode="markers",
                                 marker=dict(size=2, color="#999"), hoverinfo="skip", showlegend=False), 1, i)
        fig.add_trace(go.Scatter(x=s["fake"][:, 0].round(3), y=s["fake"][:, 1].round(3), mode="markers",
                                 marker=dict(size=3, color="#ff9f1c"), hoverinfo="skip", showlegend=False), 1, i)
        fig.update_xaxes(range=[-e, e], visible=False, row=1, col=i)
        fig.update_yaxes(range=[-e, e], visible=False, scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=40, b=5), plot_bgcolor="#f4f4f4")
    return fig


def drawing_figure(points: Sequence[Sequence[float]], extent: float, step: float = 0.25,
                   height: int = 420) -> go.Figure:
    """A plane of faint clickable grid points (click one to add it; plotly selections only report
    existing points) with the points drawn so far."""
    g = np.arange(-extent + step, extent - step / 2, step)
    gx, gy = np.meshgrid(g, g)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=gx.ravel().round(3), y=gy.ravel().round(3), mode="markers", name="click to add",
                             marker=dict(size=9, color="rgba(120,120,120,0.18)"),
                             hovertemplate="add (%{x:.2f}, %{y:.2f})<extra></extra>"))
    if points:
        d = np.asarray(points, dtype=float).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=d[:, 0], y=d[:, 1], mode="markers", name="drawn",
                                 marker=dict(symbol="x", size=11, color="#d50000"), hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False, clickmode="event+select",
                      dragmode=False)
    fig.update_xaxes(range=[-extent, extent], constrain="domain")
    fig.update_yaxes(range=[-extent, extent], scaleanchor="x", scaleratio=1)
    return fig
