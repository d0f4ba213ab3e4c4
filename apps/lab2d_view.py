"""Plotly figures for the 2D lab, drawn from a gan_core.lab2d.LabFrame's arrays (no computation here
besides scaling the arrows for display)."""
from __future__ import annotations

import gc
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

SCALE_TITLES = {"probability": "D(x) (probability real)", "score": "D(x) (LSGAN score)", "critic": "critic D(x)"}
_GC_FROZEN = False
ARROW_LEN = 0.45     # display length of the longest arrows (95th percentile), in plane units


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
    """x, y and marker sizes of one line trace drawing every arrow (start, end, gap); arrows keep their
    relative lengths within a frame (the 95th percentile is drawn ``max_len`` long)."""
    if len(at) == 0:
        return [], [], []
    norms = np.linalg.norm(vec, axis=1)
    ref = float(np.quantile(norms, 0.95)) if norms.size else 0.0
    k = max_len / ref if ref > 1e-12 else 0.0
    end = at + np.clip(vec * k, -max_len * 1.5, max_len * 1.5)
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
    fig.add_trace(go.Scatter(x=frame.fake[:, 0].round(3), y=frame.fake[:, 1].round(3), mode="markers",
                               name="generated", marker=dict(size=5, color="#ff9f1c", line=dict(width=0.5, color="#333")),
                               hoverinfo="skip"))
    if show_arrows and len(frame.arrows):
        xs, ys, sizes = arrow_segments(frame.arrows_at, frame.arrows)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="-dL_G/dx (G's push)",
                                 line=dict(color="#00c853", width=1.5),
                                 marker=dict(symbol="arrow", angleref="previous", size=sizes, color="#00c853"),
                                 hoverinfo="skip"))
    if drawn:
        d = np.asarray(drawn, dtype=float).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=d[:, 0], y=d[:, 1], mode="markers", name="drawn points",
                                 marker=dict(symbol="x", size=9, color="#d50000"), hoverinfo="skip"))
    e = float(max(abs(frame.xs[0]), abs(frame.xs[-1])))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="lab",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0),
                      title=dict(text=f"step {frame.step}", x=1.0, xanchor="right", font=dict(size=13)))
    fig.update_xaxes(range=[-e, e], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-e, e], scaleanchor="x", scaleratio=1, constrain="domain", showgrid=False,
                     zeroline=False)
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
