"""Plotly figures from StepEvent histories (data extraction lives in gan_core.studio)."""
from __future__ import annotations

import base64
import functools
import json
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


def _layout_spec(title: str, height: int = 300, y_title: str = "", log_y: bool = False,
                 tickformat: Optional[str] = None) -> dict[str, Any]:
    """Title, size, legend and axes of a curve chart as plotly's nested layout dict."""
    yaxis: dict[str, Any] = {"title": {"text": y_title}}
    if log_y:
        yaxis["type"] = "log"
    if tickformat:
        yaxis["tickformat"] = tickformat
    return {
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 14}}, "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1.0, "xanchor": "right"},
        "xaxis": {"title": {"text": "step"}}, "yaxis": yaxis, "hovermode": "x unified", "uirevision": "keep",
    }


def _layout(fig: go.Figure, title: str, height: int = 300, y_title: str = "", log_y: bool = False,
            tickformat: Optional[str] = None) -> go.Figure:
    """Set a curve chart's layout as one nested dict (plotly's ``update_layout`` with ``xaxis_title``-style
    keys costs about 6 ms a figure; a live panel makes one per logged row)."""
    fig.layout = _layout_spec(title, height, y_title, log_y, tickformat)
    return fig


def curves_spec(history: Sequence[Mapping[str, Any]], keys: Sequence[str], title: str,
                max_points: int = 1500, log_y: bool = False) -> dict[str, Any]:
    """One line per key of a single run's history as a plain plotly figure dict (downsampled for a light
    browser payload). The points are numpy arrays (steps as integers, values as float32): plotly sends them
    as typed binary arrays, which a browser decodes several times faster than lists of Python floats.
    Written as plotly's JSON schema directly: a ``go.Figure`` validates every property as it is built
    (3-4 ms a chart of 1,500 rows, plus ~1 ms for its JSON, 2-vCPU Xeon, 2026-12-03); this dict and its
    JSON (:func:`spec_json`) take ~1.2 ms together, most of it picking the rows."""
    rows = studio.downsample(history, max_points)
    data = []
    for k in keys:
        xs, ys = studio.history_series(rows, k)
        if xs:
            trace: dict[str, Any] = {"type": "scatter", "x": np.asarray(xs), "y": np.asarray(ys, np.float32),
                                     "mode": _mode(len(xs)), "name": studio.curve_label(k)}
            if k in COLOURS:
                trace["line"] = {"color": COLOURS[k]}
            data.append(trace)
    axis = studio.curve_axis(keys)   # learning rates: a log axis with scientific ticks (2e-4 is not "0")
    return {"data": data, "layout": _layout_spec(title, log_y=log_y or axis["log"], tickformat=axis["tickformat"])}


def curves_figure(history: Sequence[Mapping[str, Any]], keys: Sequence[str], title: str,
                  max_points: int = 1500, log_y: bool = False) -> go.Figure:
    """:func:`curves_spec` as a plotly figure."""
    return go.Figure(curves_spec(history, keys, title, max_points, log_y))


def live_figure(view: Any, group: Mapping[str, Any]) -> go.Figure:
    """The figure of one live chart group (``view.groups``) of a run's shared view (gan_core.studio.live):
    made once per new history row and shared by every session of both fronts (issue 22). Read-only."""
    return view.curves.memo(("figure", group["title"]), lambda: go.Figure(live_spec(view, group)))


def live_spec(view: Any, group: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`live_figure`'s plain figure dict, made once per new history row (read-only)."""
    return view.curves.memo(("spec", group["title"]),
                            lambda: curves_spec(view.history, group["keys"], group["title"]))


def live_json(view: Any, group: Mapping[str, Any]) -> str:
    """:func:`live_figure` as plotly JSON, made once per new history row from the plain dict (no figure)."""
    return view.curves.memo(("json", group["title"]), lambda: spec_json(live_spec(view, group)))


_TYPED = {"int8": "i1", "int16": "i2", "int32": "i4", "uint8": "u1", "uint16": "u2", "uint32": "u4",
          "float32": "f4", "float64": "f8"}


def _typed(a: np.ndarray) -> Any:
    """A numpy array as plotly.js's typed-array spec (what ``go.Figure.to_json`` sends: base64 of the raw
    bytes), int64 steps as int32; anything else as a list."""
    if a.dtype == np.int64 and a.size and np.abs(a).max() < 2**31:
        a = a.astype(np.int32)
    code = _TYPED.get(str(a.dtype))
    if code is None or a.ndim != 1 or not a.size:
        return a.tolist()
    return {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")}


def spec_json(spec: Mapping[str, Any]) -> str:
    """A plain figure dict (:func:`curves_spec`) as plotly JSON with its arrays typed, without building a figure."""
    data = [{k: _typed(v) if isinstance(v, np.ndarray) else v for k, v in trace.items()} for trace in spec["data"]]
    layout = dict(spec["layout"])
    if "template" not in layout:   # the look a go.Figure has: plotly's default template (Streamlit sets its own)
        import plotly.io as pio

        layout["template"] = _template_json(pio.templates.default)
    return json.dumps({"data": data, "layout": layout}, separators=(",", ":"))


@functools.lru_cache(maxsize=4)
def _template_json(name: str) -> dict[str, Any]:
    import plotly.io as pio

    return pio.templates[name].to_plotly_json()


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
