"""ZeroGPU in the Gradio front end (gan_core/jobs/zerogpu.py has the rest): :func:`install` hands ``spaces.GPU``
to gan_core before the app launches (training then runs as job mode "zerogpu"), and :func:`on_gpu` wraps a
tab's handler so that it runs in a short GPU call when that helps (on ZeroGPU, for large work) and on the
CPU otherwise, a ZeroGPU refusal reaching the visitor as one ``gr.Error`` line.

Pass the handler itself to :func:`on_gpu` at the event (``btn.click(on_gpu(generate, ...), ...)``), never
rebind its module name to the wrapper: the handler crosses into the GPU worker by pickling, by name."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional

import gradio as gr

from gan_core import studio
from gan_core.jobs import zerogpu


def install() -> str:
    """On ZeroGPU (or with GAN_STUDIO_ZEROGPU=1), give gan_core the ``spaces.GPU`` decorator (none when
    ``spaces`` is not installed: calls then run as they are). Returns a line saying what was set up."""
    if not zerogpu.enabled():
        return ""
    try:
        import spaces
    except ImportError:
        zerogpu.install(None)
        return "ZeroGPU mode without the `spaces` package: GPU calls run in this process as they are."
    zerogpu.install(spaces.GPU)
    return f"ZeroGPU: training and heavy tools run in GPU calls of at most {zerogpu.MAX_CALL_S} s."


def image_pixels(name: str) -> int:
    """Pixels of one image of generator ``name`` (0 when it cannot be loaded: the handler says why)."""
    try:
        entry = studio.find_generator(name)
        G = studio.load_generator_cached(entry.path)[0]
    except Exception:  # noqa: BLE001 - the handler itself reports a bad name
        return 0
    size = int(getattr(G, "image_size", 32))
    return size * size


def on_gpu(fn: Callable[..., Any], tool: str, work: Callable[..., float] = lambda *a, **k: float("inf"),
           seconds: Optional[Callable[..., int]] = None) -> Callable[..., Any]:
    """``fn`` under gan_core.jobs.zerogpu.gpu_tool, with ZeroGPU's refusals as one gr.Error line."""
    wrapped = zerogpu.gpu_tool(fn, tool, work, seconds)
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any):
            try:
                yield from wrapped(*args, **kwargs)
            except zerogpu.GpuUnavailable as e:
                raise gr.Error(str(e)) from None
        return gen

    @functools.wraps(fn)
    def handler(*args: Any, **kwargs: Any) -> Any:
        try:
            return wrapped(*args, **kwargs)
        except zerogpu.GpuUnavailable as e:
            raise gr.Error(str(e)) from None
    return handler
