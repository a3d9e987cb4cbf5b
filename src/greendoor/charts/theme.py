"""One look for every figure: colours, type, margins, the Plotly config, the health
bands' colours and cut-offs (from the settings in force), and the presentation scale.

Every factory in :mod:`greendoor.charts` takes a :class:`Theme` and finishes its figure
with :func:`finish`; pages never set a colour, a font or a margin.
"""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from greendoor.text import plot_text

#: The palette (also used for series that are not bands or segments).
INK = "#1b2631"  # text and ticks: dark, for a projected screen
GRID = "#e5e8e8"
NAVY, BLUE, SKY, GREY, ORANGE = "#1f4e79", "#2e86c1", "#85c1e9", "#aab7b8", "#d35400"
BAND_COLORS = {"green": "#1e8449", "yellow": "#d4ac0d", "red": "#c0392b"}
BAND_ORDER = ("red", "yellow", "green")
SEGMENT_LABELS = {"enterprise": "Enterprise", "mid_market": "Mid-market", "smb": "SMB",
                  "unknown": "Unknown"}
SEGMENT_COLORS = {"enterprise": NAVY, "mid_market": BLUE, "smb": SKY, "unknown": "#b0b0b0"}
#: Colours of outcome-like categories (promoter/passive/detractor, ask statuses,
#: forecast categories): green good, amber middling, red bad, grey none.
OUTCOME_COLORS = {
    "promoters": BAND_COLORS["green"], "passives": BAND_COLORS["yellow"],
    "detractors": BAND_COLORS["red"],
    "asked": GREY, "accepted": "#f5b041", "completed": BAND_COLORS["green"],
    "declined": BAND_COLORS["red"],
    "commit": BAND_COLORS["green"], "best_case": "#52be80", "pipeline": "#f5b041",
    "omitted": BAND_COLORS["red"], "no_opportunity": GREY,
}
#: Plotly's config for every chart: no logo, no toolbar clutter on a shared screen.
CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


@dataclasses.dataclass(frozen=True)
class Theme:
    """How figures look: ``present`` scales type up for a projected 1920x1080 screen;
    ``green`` and ``yellow`` are the health bands' lower bounds (0-100) in force."""

    present: bool = False
    green: float = 80.0
    yellow: float = 50.0

    @property
    def font(self) -> int:
        """Base font size in px: 18 on a projected screen, 14 otherwise."""
        return 18 if self.present else 14

    @property
    def title(self) -> int:
        """Title font size in px: 22 on a projected screen, 17 otherwise."""
        return 22 if self.present else 17

    @classmethod
    def of(cls, settings: dict, present: bool = False) -> Theme:
        """The theme of the health bands in ``settings`` (:class:`greendoor.config.Settings`
        as a dict)."""
        bands = settings["health"]["bands"]
        return cls(present=present, green=float(bands["green"]), yellow=float(bands["yellow"]))

    def bands(self) -> list[tuple[str, float, float]]:
        """``[(band, low, high), ...]`` from red to green."""
        return [("red", 0.0, self.yellow), ("yellow", self.yellow, self.green),
                ("green", self.green, 100.0)]

    def band_words(self) -> str:
        """"green 80+, yellow 50-79, red below 50" for the cut-offs in force."""
        return (f"green {self.green:.0f}+, yellow {self.yellow:.0f}-{self.green - 1:.0f}, "
                f"red below {self.yellow:.0f}")


def finish(fig: go.Figure, title: str, theme: Theme, height: int = 360,
           legend_below: bool = False) -> go.Figure:
    """Title, type, margins, grid and hover of a figure, at the theme's scale."""
    scale = 1.15 if theme.present else 1.0
    # the title on the first line, a legend above the plot on the second: room for both
    top = theme.title + 18 + (0 if legend_below else theme.font + 14)
    fig.update_layout(
        title=dict(text=plot_text(title), font=dict(size=theme.title, color=INK),
                   x=0, xanchor="left", xref="container", y=1, yanchor="top", yref="container",
                   pad=dict(t=6, l=4)),
        height=int(height * scale), font=dict(size=theme.font, color=INK),
        margin=dict(l=10, r=10, t=top, b=10),
        plot_bgcolor="white", hoverlabel=dict(font_size=theme.font),
        legend=dict(orientation="h", y=-0.2 if legend_below else 1.0,
                    yanchor="top" if legend_below else "bottom", x=0, font=dict(size=theme.font)))
    fig.update_xaxes(showgrid=False, tickfont=dict(size=theme.font, color=INK),
                     title_font=dict(size=theme.font, color=INK), automargin=True)
    fig.update_yaxes(gridcolor=GRID, tickfont=dict(size=theme.font, color=INK),
                     title_font=dict(size=theme.font, color=INK), automargin=True)
    return fig


def money_axis(fig: go.Figure, axis: str = "y") -> go.Figure:
    """Dollar ticks in thousands or millions ($1.2M) on ``axis``."""
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(tickprefix="$", tickformat="~s")
    return fig


def percent_axis(fig: go.Figure, axis: str = "y", decimals: int = 0) -> go.Figure:
    """Format the ``axis`` ("x" or "y") of ``fig`` as percentages of fractions (0.25 -> 25%)
    with ``decimals`` places; returns ``fig``."""
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(tickformat=f".{decimals}%")
    return fig


def labels(values) -> list[str]:
    """Data values as safe Plotly labels (no tags: an account or segment name cannot
    become a link)."""
    return [plot_text(v) for v in values]
