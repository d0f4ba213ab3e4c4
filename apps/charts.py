"""Plotly figures from StepEvent histories (data extraction lives in gan_core.studio)."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from gan_core import studio

COLOURS = {"d_loss": "#d62728", "g_loss": "#1f77b4", "d_real": "#2ca02c", "d_fake": "#ff7f0e",
           "grad_norm_d": "#d62728", "grad_norm_g": "#1f77b4", "lr_d": "#d62728", "lr_g": "#1f77b4"}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


def _mode(n_points: int) -> str:
    """Markers for short curves: a line through one point draws nothing (a one-step run was invisible,
    though it still set the axis range)."""
    return "lines" if n_points > 30 else "lines+markers"


def _layout(fig: go.Figure, title: str, height: int = 300, y_title: str = "", log_y: bool = False,
            tickformat: Optional[str] = None) -> go.Figure:
    """Title, size, legend and axes of a curve chart, set as one nested dict (plotly's ``update_layout``
    with ``xaxis_title``-style keys costs about 6 ms a figure; a live panel makes one per logged row)."""
    yaxis: dict[str, Any] = {"title": {"text": y_title}}
    if log_y:
        yaxis["type"] = "log"
    if tickformat:
        yaxis["tickformat"] = tickformat
    fig.layout = {
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 14}}, "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1.0, "xanchor": "right"},
        "xaxis": {"title": {"text": "step"}}, "yaxis": yaxis, "hovermode": "x unified", "uirevision": "keep",
    }
    return fig


def curves_figure(history: Sequence[Mapping[str, Any]], keys: Sequence[str], title: str,
                  max_points: int = 1500, log_y: bool = False) -> go.Figure:
    """One line per key of a single run's history (downsampled for a light browser payload). The points are
    numpy arrays (steps as integers, values as float32): plotly sends them as typed binary arrays, which a
    live panel copies and encodes every poll several times faster than lists of Python floats."""
    rows = studio.downsample(history, max_points)
    fig = go.Figure()
    for k in keys:
        xs, ys = studio.history_series(rows, k)
        if xs:
            fig.add_trace(go.Scatter(x=np.asarray(xs), y=np.asarray(ys, np.float32), mode=_mode(len(xs)),
                                     name=studio.curve_label(k), line=dict(color=COLOURS.get(k))))
    axis = studio.curve_axis(keys)   # learning rates: a log axis with scientific ticks (2e-4 is not "0")
    return _layout(fig, title, log_y=log_y or axis["log"], tickformat=axis["tickformat"])


def live_figure(view: Any, group: Mapping[str, Any]) -> go.Figure:
    """The figure of one live chart group (``view.groups``) of a run's shared view (gan_core.studio.live):
    made once per new history row and shared by every session of both fronts (issue 22). Read-only."""
    return view.curves.memo(("figure", group["title"]),
                            lambda: curves_figure(view.history, group["keys"], group["title"]))


def compare_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]], key: str, smoothing: float = 0.0,
                   max_points: int = 1500, log_y: bool = False) -> go.Figure:
    """One line per run for one curve (e.g. every run's D loss), optionally smoothed."""
    fig = go.Figure()
    for i, (name, hist) in enumerate(runs.items()):
        xs, ys = studio.history_series(studio.downsample(hist, max_points), key)
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=studio.smooth(ys, smoothing), mode=_mode(len(xs)), name=name,
                                     line=dict(color=PALETTE[i % len(PALETTE)])))
    axis = studio.curve_axis([key])
    return _layout(fig, studio.curve_label(key), height=340, log_y=log_y or axis["log"], tickformat=axis["tickformat"])


def metrics_figure(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> go.Figure:
    """Evaluator metrics (FID, KID, tag accuracy, ...) against step: one small panel per metric
    (their scales differ by orders of magnitude)."""
    from plotly.subplots import make_subplots

    names = list(names) or ["fid"]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[studio.METRIC_NAMES.get(n, n) for n in names],
                        horizontal_spacing=0.08)
    for i, n in enumerate(names):
        pts = [(r["step"], r[n]) for r in rows if isinstance(r.get(n), (int, float)) and "step" in r]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                 name=studio.METRIC_NAMES.get(n, n), showlegend=False,
                                 line=dict(color=PALETTE[i % len(PALETTE)])), row=1, col=i + 1)
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep")
    fig.update_annotations(font_size=12)
    fig.update_xaxes(title_text="step")
    return fig
