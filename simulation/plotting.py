"""The reports' charts on matplotlib: a figure of a size in pixels, drawn by the Agg canvas
without pyplot (no backend chosen, no global figure state, safe on the plots' own thread), its
ticks written as the report's language writes numbers (``0,8`` in French), saved as a PNG whose
bytes are the same for the same chart.

matplotlib takes about 0.5 s to import, as long as a whole simulated season's numpy work, so it
is imported only where a chart is drawn, on a thread beside the run
(:class:`simulation.report.ReportLibraries`); ``bench/report.py`` measures it.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

from ephoto.texts import DEFAULT_LANGUAGE, format_number

# The frame and ticks' colour, the grid's.
INK = "#262626"
GRID = "#e3e3e3"
DPI = 100
# The plot area's margins in pixels (left, right, top, bottom): room for a title, axis labels
# and tick labels up to "2 500 000" (tests/test_simulation_plots.py). Fixed rather than
# matplotlib's constrained layout, which lays every text out once more: 0.2 s of the three
# simulation plots' 0.5 s.
MARGINS = (104, 28, 36, 52)


class LanguageFormatter(Formatter):
    """Tick labels as ``lang`` writes numbers, with the fewest decimals that write every tick
    of the axis exactly (0, 0,25, 0,5 ...: two decimals for each)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.digits = 0

    def set_locs(self, locs: list[float]) -> None:
        super().set_locs(locs)
        self.digits = tick_decimals(list(locs))

    def __call__(self, x: float, pos: int | None = None) -> str:
        value = round(float(x), self.digits) + 0.0  # no "-0" for a tick a rounding off zero
        return format_number(value, self.digits, self.lang).replace("-", "\u2212")


def tick_decimals(values: list[float]) -> int:
    """The fewest decimals (at most 6) that write each of ``values`` exactly."""
    for digits in range(7):
        scaled = [v * 10**digits for v in values]
        if all(abs(s - round(s)) < 1e-6 * max(1.0, abs(s)) for s in scaled):
            return digits
    return 6


def line_axes(
    title: str,
    xlabel: str,
    ylabel: str,
    lang: str = DEFAULT_LANGUAGE,
    size: tuple[int, int] = (880, 495),
) -> Axes:
    """The axes of a new chart of ``size`` pixels: title, axis labels, light grid, ticks in
    ``lang``. Draw on them with matplotlib's own calls, then :func:`save_png`."""
    width, height = size
    left, right, top, bottom = MARGINS
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height
    )
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=13)
    axes.set_xlabel(xlabel, fontsize=11)
    axes.set_ylabel(ylabel, fontsize=11)
    axes.tick_params(colors=INK, labelsize=10)
    for spine in axes.spines.values():
        spine.set_color(INK)
    axes.grid(True, color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    axes.xaxis.set_major_formatter(LanguageFormatter(lang))
    axes.yaxis.set_major_formatter(LanguageFormatter(lang))
    return axes


def save_png(axes: Axes, path: Path) -> Path:
    """Write the chart of ``axes`` to ``path`` as a PNG of the figure's size in pixels."""
    figure = axes.get_figure()
    assert isinstance(figure, Figure)
    # zlib's fastest level: a third of the encoding time for images of a few flat colours; no
    # "Software" text, so the file depends only on the chart.
    figure.savefig(
        path,
        format="png",
        dpi=DPI,
        metadata={"Software": None},
        pil_kwargs={"compress_level": 1},
    )
    return path
