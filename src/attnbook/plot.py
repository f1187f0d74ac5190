"""Heat maps and curves in one consistent style (matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = ["curves", "heatmap", "use_book_style"]


def use_book_style() -> None:
    """Apply the book's matplotlib defaults (size, dpi, grid, fonts); 2x PNGs in a notebook."""
    _use_high_density_png()
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "image.cmap": "viridis",
        }
    )


def _use_high_density_png() -> None:
    """In IPython, show figures as PNGs at twice the pixels, displayed at their natural size."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # the package is used without IPython: nothing to do
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def _as_matrix(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A 2-D float numpy array from a tensor or array (rows, cols)."""
    array = (
        values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    )
    if array.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix (rows, cols), got shape {array.shape}")
    return array.astype(float)


def heatmap(
    matrix: torch.Tensor | np.ndarray,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    x_ticks: Sequence[str] | None = None,
    y_ticks: Sequence[str] | None = None,
    ax: Axes | None = None,
    colorbar_label: str = "attention weight",
    annotate: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
) -> Axes:
    """Draw a (rows, cols) matrix with labelled axes and a colour bar; return the Axes."""
    array = _as_matrix(matrix)
    if ax is None:
        _, ax = plt.subplots()
    image = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    for ticks, setter, size in (
        (x_ticks, ax.set_xticks, array.shape[1]),
        (y_ticks, ax.set_yticks, array.shape[0]),
    ):
        if ticks is not None:
            if len(ticks) != size:
                raise ValueError(f"got {len(ticks)} tick labels for an axis of length {size}")
            setter(range(size), labels=list(ticks))
    if annotate:
        middle = (np.nanmax(array) + np.nanmin(array)) / 2
        for (row, col), value in np.ndenumerate(array):
            colour = "black" if value > middle else "white"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def curves(
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    x: Sequence[float] | None = None,
    ax: Axes | None = None,
    logx: bool = False,
    logy: bool = False,
    marker: str | None = None,
) -> Axes:
    """Plot named series (name -> values) against x (default 1..n) with a legend; return the Axes."""
    if not series:
        raise ValueError("curves needs at least one series")
    if ax is None:
        _, ax = plt.subplots()
    for name, values in series.items():
        xs = list(range(1, len(values) + 1)) if x is None else list(x)
        if len(xs) != len(values):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(xs)} x positions")
        ax.plot(xs, list(values), label=name, marker=marker)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
