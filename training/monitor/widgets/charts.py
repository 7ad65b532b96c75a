"""A plotext line chart of one metric, overlaying any number of runs."""
from __future__ import annotations

from textual_plotext import PlotextPlot


def downsample(xs: list[float], ys: list[float], n: int) -> tuple[list[float], list[float]]:
    """At most about `n` points, keeping the first and the last."""
    if len(xs) <= n or n < 2:
        return xs, ys
    step = len(xs) / (n - 1)
    idx = sorted({min(len(xs) - 1, int(i * step)) for i in range(n - 1)} | {len(xs) - 1})
    return [xs[i] for i in idx], [ys[i] for i in idx]


class MetricChart(PlotextPlot):
    """`set_lines([(label, steps, values), ...])` replaces what is drawn."""

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 8; border: round $primary-darken-2; }
    """

    def __init__(self, title: str, *, log_y: bool = False, id: str | None = None):
        super().__init__(id=id)
        self.title = title
        self.log_y = log_y
        self.border_title = title
        self.lines: list[tuple[str, list[float], list[float]]] = []

    def set_lines(self, lines: list[tuple[str, list[float], list[float]]]) -> None:
        self.lines = [line for line in lines if line[1]]
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        width = max(20, self.size.width or 80)
        if not self.lines:
            plt.title(f"{self.title}: no data yet")
            self.refresh()
            return
        for label, xs, ys in self.lines:
            xs, ys = downsample(xs, ys, 2 * width)
            if self.log_y:
                ys = [y if y > 0 else float("nan") for y in ys]
            plt.plot(xs, ys, label=label, marker="braille")
        if self.log_y:
            plt.yscale("log")
        plt.xlabel("step")
        self.refresh()

    def on_resize(self) -> None:
        self._draw()
