"""Plots of an evaluation: RMSE and MAE per segment, where the squared error comes from.

The drawing functions need matplotlib, from the optional extra
``pip install 'polars-l2[plot]'``. They draw on a standalone
:class:`matplotlib.figure.Figure` (Agg canvas), never on pyplot's global state,
so they are safe in scripts, servers and threads. Every figure is made by one
helper, ``_new_figure``, whose figures Jupyter, VS Code and IPython show
inline whatever was imported before (see :mod:`polars_l2._figure`): a new
plot gets that by drawing on it. The curve data itself,
:func:`concentration_curve`, is plain Polars and needs no extra.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Literal, overload

import polars as pl

from polars_l2 import _decompose, _extras, _murphy, functions
from polars_l2._compare import COLUMNS as COMPARE_COLUMNS
from polars_l2._core import arguments, dtypes, metrics, options
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from os import PathLike
    from types import ModuleType

    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from polars_l2.typing import IntoExpr, NanPolicy

__all__ = [
    "concentration_curve",
    "plot_comparison",
    "plot_concentration",
    "plot_evaluation",
    "plot_murphy",
    "plot_reliability",
    "plot_report",
    "reliability_curve",
    "supported_formats",
]

_SEGMENT_SEPARATOR = " / "

_REPORT_METRIC_COLUMNS = frozenset(
    {"overall", "n", "weight_sum", "small", *metrics.METRICS}
)
#: The curve's own columns; any other column of a curve is a segment key.
_CURVE_COLUMNS = ("model", "share_of_rows", "share_of_sse")
# Internal column names start with "_", so no user's column can clash.
_E2, _W = "_l2_e2", "_l2_w"


def _segment_label(keys: list[str]) -> pl.Expr:
    """Return a row's segment as text: its keys' values joined, null as "null"."""
    return pl.concat_str(
        [arguments.column(c).cast(pl.String).fill_null("null") for c in keys],
        separator=_SEGMENT_SEPARATOR,
    )


def _import(module: str) -> ModuleType:
    """Import a matplotlib module, or raise an ImportError saying what to install."""
    return _extras.require(
        module, user="polars_l2.plot", library="matplotlib", extra="plot"
    )


def _new_figure(width: float, height: float) -> Figure:
    """Return the empty figure every plot draws on.

    Every figure goes through here: it is shown inline by Jupyter, VS Code
    and IPython whatever was imported before (see :mod:`polars_l2._figure`).
    """
    figure: Figure = _import("polars_l2._figure").new_figure(width, height)
    return figure


def _finish(figure: Figure, path: str | PathLike[str] | None) -> Figure:
    if path is not None:
        # matplotlib writes the format the extension names (.png, .svg,
        # .pdf, ...) and refuses one it does not know.
        figure.savefig(path)
    return figure


def supported_formats() -> tuple[str, ...]:
    """Return the figure formats matplotlib writes, by file extension.

    Returns
    -------
    tuple of str
        Extensions without the dot (``"png"``, ``"svg"``, ``"pdf"``, ...),
        sorted.

    Raises
    ------
    ImportError
        Without matplotlib; install ``polars-l2[plot]``.

    Examples
    --------
    >>> from polars_l2.plot import supported_formats
    >>> {"png", "svg", "pdf"} <= set(supported_formats())
    True
    """
    backend_bases = _import("matplotlib.backend_bases")
    return tuple(sorted(backend_bases.FigureCanvasBase.get_supported_filetypes()))


@overload
def concentration_curve(
    frame: pl.DataFrame,
    actual: IntoExpr,
    predicted: IntoExpr | Sequence[IntoExpr],
    *,
    weight: IntoExpr | None = ...,
    nan_policy: NanPolicy = ...,
    points: int = ...,
    by: str | Sequence[str] | None = ...,
) -> pl.DataFrame: ...


@overload
def concentration_curve(
    frame: pl.LazyFrame,
    actual: IntoExpr,
    predicted: IntoExpr | Sequence[IntoExpr],
    *,
    weight: IntoExpr | None = ...,
    nan_policy: NanPolicy = ...,
    points: int = ...,
    by: str | Sequence[str] | None = ...,
) -> pl.LazyFrame: ...


def concentration_curve(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: IntoExpr,
    predicted: IntoExpr | Sequence[IntoExpr],
    *,
    weight: IntoExpr | None = None,
    nan_policy: NanPolicy = "propagate",
    points: int = 200,
    by: str | Sequence[str] | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Share of the SSE against the share of rows, largest squared errors first.

    Rows are sorted by squared error, largest first. A point ``(x, y)`` on the
    curve says that the ``x`` share of rows with the largest errors holds the
    ``y`` share of the sum of squared errors. Were all errors equal, the curve
    would be the diagonal; a curve that shoots up at the left means a few rows
    dominate the loss, and so MSE and RMSE. Weighted, ``x`` is the share of
    the total weight and ``y`` the share of the weighted SSE.

    Parameters
    ----------
    frame
        A DataFrame or LazyFrame.
    actual
        The observed values: a column name or an expression.
    predicted
        The predictions of one model, or a list of them (one curve per model).
    weight
        Optional non-negative row weights.
    nan_policy
        ``"propagate"`` (default) or ``"omit"``; see :func:`polars_l2.loss`.
    points
        About this many points per model, evenly spaced in rank, plus the
        origin; the last row is always one. A plot needs no more, however
        many rows there are. With `by`, that many per model and segment.
    by
        A segment column name, or a list of them: one curve per model and
        segment, each over the segment's own rows and SSE. Names are read
        literally. A null key is a segment of its own.

    Returns
    -------
    DataFrame or LazyFrame
        Columns ``model`` (String, the name of each prediction), the `by`
        columns (in their own dtypes; segments in sorted order, null last),
        ``share_of_rows`` and ``share_of_sse`` (Float64, from 0 to 1), in
        the type of `frame`. Rows count only where actual, prediction and
        weight are all present.

    Raises
    ------
    ValueError
        If `points` is below 1 or `predicted` names no column.
    polars_l2.L2InputError
        If `by` is not a column name or a list of names, or takes the name
        of an output column.

    References
    ----------
    .. [1] M. O. Lorenz, "Methods of measuring the concentration of wealth",
           *Publications of the American Statistical Association* 9(70),
           209-219, 1905 (the curve, here of squared errors over rows).

    Examples
    --------
    Five houses; one prediction is off by 10, the others by 1:

    >>> import polars as pl
    >>> from polars_l2.plot import concentration_curve
    >>> df = pl.DataFrame({"y": [0.0] * 5, "yhat": [10.0, 1.0, 1.0, 1.0, 1.0]})
    >>> concentration_curve(df, "y", "yhat")
    shape: (6, 3)
    ┌───────┬───────────────┬──────────────┐
    │ model ┆ share_of_rows ┆ share_of_sse │
    │ ---   ┆ ---           ┆ ---          │
    │ str   ┆ f64           ┆ f64          │
    ╞═══════╪═══════════════╪══════════════╡
    │ yhat  ┆ 0.0           ┆ 0.0          │
    │ yhat  ┆ 0.2           ┆ 0.961538     │
    │ yhat  ┆ 0.4           ┆ 0.971154     │
    │ yhat  ┆ 0.6           ┆ 0.980769     │
    │ yhat  ┆ 0.8           ┆ 0.990385     │
    │ yhat  ┆ 1.0           ┆ 1.0          │
    └───────┴───────────────┴──────────────┘

    The 20% of rows with the largest error (one house) hold 96% of the SSE.
    Per segment, each curve reaches 1 within its segment:

    >>> df = df.with_columns(g=pl.Series(["a", "a", "b", "b", "b"]))
    >>> concentration_curve(df, "y", "yhat", by="g")
    shape: (7, 4)
    ┌───────┬─────┬───────────────┬──────────────┐
    │ model ┆ g   ┆ share_of_rows ┆ share_of_sse │
    │ ---   ┆ --- ┆ ---           ┆ ---          │
    │ str   ┆ str ┆ f64           ┆ f64          │
    ╞═══════╪═════╪═══════════════╪══════════════╡
    │ yhat  ┆ a   ┆ 0.0           ┆ 0.0          │
    │ yhat  ┆ a   ┆ 0.5           ┆ 0.990099     │
    │ yhat  ┆ a   ┆ 1.0           ┆ 1.0          │
    │ yhat  ┆ b   ┆ 0.0           ┆ 0.0          │
    │ yhat  ┆ b   ┆ 0.333333      ┆ 0.333333     │
    │ yhat  ┆ b   ┆ 0.666667      ┆ 0.666667     │
    │ yhat  ┆ b   ┆ 1.0           ┆ 1.0          │
    └───────┴─────┴───────────────┴──────────────┘
    """
    if points < 1:
        msg = f"points must be at least 1, got {points}"
        raise ValueError(msg)
    models = [predicted] if isinstance(predicted, (str, pl.Expr)) else list(predicted)
    if not models:
        msg = "predicted must name at least one column"
        raise ValueError(msg)
    keys = arguments.names(
        by, role="by", function="concentration_curve", reserved=_CURVE_COLUMNS
    )
    lazy = frame.lazy()
    curves = [
        _one_curve(
            lazy,
            actual,
            model,
            weight=weight,
            nan_policy=nan_policy,
            points=points,
            by=keys,
        )
        for model in models
    ]
    result = pl.concat(curves, how="vertical")
    return result if isinstance(frame, pl.LazyFrame) else result.collect()


def _model_name(model: IntoExpr) -> str:
    return model if isinstance(model, str) else model.meta.output_name()


def _counted_squares(
    lazy: pl.LazyFrame,
    actual: IntoExpr,
    model: IntoExpr,
    *,
    weight: IntoExpr | None,
    nan_policy: NanPolicy,
    by: tuple[str, ...],
) -> tuple[pl.LazyFrame, list[str]]:
    """Return the counted rows' keys, squared errors and weights, largest first.

    The rows that count are the metrics' (``arguments.counted_rows``); a
    null key is a segment, not a gap. Also the keys' internal names.
    """
    e2 = functions.loss(actual, model, nan_policy=nan_policy)
    w = None
    if weight is not None:
        w = dtypes.weight(
            arguments.parse_into_expr(weight, role="weight"),
            nan_policy=nan_policy,
            metric="plot",
        )
    e2, w, _ = arguments.counted_rows(e2, w)
    keys = [f"{arguments.BY}{i}" for i in range(len(by))]
    rows = (
        lazy.select(
            *(
                arguments.column(name).alias(key)
                for name, key in zip(by, keys, strict=True)
            ),
            e2.alias(_E2),
            (pl.lit(1.0, dtype=pl.Float64) if w is None else w).alias(_W),
        )
        .drop_nulls([_E2])
        .sort(
            [*keys, _E2],
            descending=[*(False for _ in keys), True],
            nulls_last=True,
            maintain_order=True,
        )
    )
    return rows, keys


def _one_curve(
    lazy: pl.LazyFrame,
    actual: IntoExpr,
    model: IntoExpr,
    *,
    weight: IntoExpr | None,
    nan_policy: NanPolicy,
    points: int,
    by: tuple[str, ...],
) -> pl.LazyFrame:
    rows, keys = _counted_squares(
        lazy, actual, model, weight=weight, nan_policy=nan_policy, by=by
    )

    def within(expr: pl.Expr) -> pl.Expr:
        # Each segment's curve over its own rows; one curve without keys.
        return expr.over(keys) if keys else expr

    rank = within(pl.int_range(pl.len(), dtype=pl.Int64))
    length = within(pl.len())
    # Evenly spaced ranks: every `step`-th row, so at most `points` per curve.
    step = (length // points).clip(lower_bound=1)
    curve = (
        rows.select(
            *keys,
            share_of_rows=_share(pl.col(_W), within),
            share_of_sse=_share(pl.col(_W) * pl.col(_E2), within),
            keep=((rank + 1) % step == 0) | (rank == length - 1),
        )
        .filter(pl.col("keep"))
        .drop("keep")
    )
    # Each curve starts at the origin: one per segment, or one in all.
    zero = {name: pl.lit(0.0, pl.Float64) for name in _CURVE_COLUMNS[1:]}
    if keys:
        origin = rows.select(keys).unique(maintain_order=True).with_columns(**zero)
    else:
        origin = pl.LazyFrame().select(**zero)
    # A stable sort keeps each segment's origin before its points.
    both = pl.concat([origin, curve], how="vertical")
    if keys:
        both = both.sort(keys, nulls_last=True, maintain_order=True)
    return both.select(
        pl.lit(_model_name(model), dtype=pl.String).alias("model"),
        *(pl.col(key).alias(name) for name, key in zip(by, keys, strict=True)),
        "share_of_rows",
        "share_of_sse",
    )


def _share(values: pl.Expr, within: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """Return the running share of the total, null where no share exists.

    The metrics' null rule: a zero total or any negative weight gives null,
    not a number that looks like a share.
    """
    total = within(values.sum())
    valid = metrics.weights_valid(total, within((pl.col(_W) < 0).sum()))
    return pl.when(valid).then(within(values.cum_sum()) / total)


def _check_frame(
    frame: object, *, argument: str, function: str, source: str, needed: Sequence[str]
) -> None:
    """Refuse, in one line naming `argument`, what is not `source`'s output."""
    prefix = f"polars_l2.plot.{function}: {argument} must be the output of {source}"
    if not isinstance(frame, pl.DataFrame):
        msg = f"{prefix}, a polars DataFrame; got {type(frame).__name__}"
        raise L2InputError(msg)
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        msg = (
            f"{prefix}, with columns {', '.join(map(repr, needed))}; it lacks "
            f"{', '.join(map(repr, missing))} (it has {frame.columns})"
        )
        raise L2InputError(msg)


def _check_report(report: object, max_segments: object, *, function: str) -> None:
    _check_frame(
        report,
        argument="report",
        function=function,
        source="polars_l2.report",
        needed=("model", "rmse"),
    )
    options.check(f"polars_l2.plot.{function}", max_segments=max_segments)


def _check_curve(curve: object, max_segments: object, *, function: str) -> None:
    _check_frame(
        curve,
        argument="curve",
        function=function,
        source="polars_l2.plot.concentration_curve",
        needed=_CURVE_COLUMNS,
    )
    options.check(f"polars_l2.plot.{function}", max_segments=max_segments)


def _segment_labels(report: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Return the `by` column names of a report and one label per row."""
    by = [c for c in report.columns if c not in _REPORT_METRIC_COLUMNS | {"model"}]
    if not by:
        return by, ["all rows"] * report.height
    label = _segment_label(by)
    if "overall" in report.columns:
        # An overall row's keys are null: it is all rows, not a null segment.
        label = pl.when(pl.col("overall")).then(pl.lit("all rows")).otherwise(label)
    return by, report.select(label).to_series().to_list()


def interval_label(confidence: float) -> str:
    """Return how the interval's level is shown: ``0.95`` as ``"95%"``.

    Examples
    --------
    >>> interval_label(0.95), interval_label(0.975)
    ('95%', '97.5%')
    """
    return f"{round(confidence * 100, 6):g}%"


_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def compact_number(value: float) -> str:
    """Return a tick label: 3 significant digits and an SI suffix from 10,000 up.

    Examples
    --------
    >>> [compact_number(x) for x in (0.25, 1500.0, 250_000.0, -3.5e6, 1.2e13)]
    ['0.25', '1,500', '250k', '-3.5M', '12T']
    """
    size = abs(value)
    if size >= 1e4:
        for scale, suffix in _SUFFIXES:
            if size >= scale:
                return f"{value / scale:.3g}{suffix}"
    return f"{value:,.6g}"


def _rmse_label(
    *, intervals: bool, confidence: float, weighted: bool, mae: bool = False
) -> str:
    measured = "RMSE and MAE" if mae else "RMSE"
    kind = f"weighted {measured}" if weighted else f"{measured} (unweighted)"
    if not intervals:
        return kind
    return f"{kind}; bars: {interval_label(confidence)} confidence interval"


#: How each metric of the per-segment plot is drawn: marker, filled.
_METRIC_MARKERS = {"rmse": ("o", True), "mae": ("D", False)}


def _legend_outside(ax: Axes, handles: list[Artist], title: str | None) -> None:
    """Put the legend right of the axes, where it covers no data."""
    ax.legend(
        handles=handles,
        title=title,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        frameon=False,
    )


def _draw_metric(
    ax: Axes,
    rows: pl.DataFrame,
    metric: str,
    y: list[float],
    *,
    colour: str,
) -> None:
    """Draw one metric of one model: a marker per segment, its interval as bars."""
    marker, filled = _METRIC_MARKERS[metric]
    value = rows[metric].cast(pl.Float64)
    low, high = f"{metric}_low", f"{metric}_high"
    xerr = None
    if low in rows.columns and high in rows.columns:
        # A null interval (n < 2) draws no bar rather than a zero-width one.
        below = (value - rows[low].cast(pl.Float64)).fill_null(0.0).to_numpy()
        above = (rows[high].cast(pl.Float64) - value).fill_null(0.0).to_numpy()
        xerr = [below, above]
    ax.errorbar(
        value.fill_null(float("nan")).to_numpy(),
        y,
        xerr=xerr,
        fmt=marker,
        color=colour,
        markerfacecolor=colour if filled else "white",
        markersize=6 if filled else 5,
        capsize=3 if filled else 2,
        elinewidth=1.5 if filled else 0.8,
    )


def _draw_rmse(
    ax: Axes,
    report: pl.DataFrame,
    *,
    max_segments: int,
    confidence: float,
    weighted: bool | None,
) -> None:
    """Draw RMSE per segment and model, and MAE beside it where the report has it."""
    lines = _import("matplotlib.lines")
    by, labels = _segment_labels(report)
    frame = report.with_columns(_segment=pl.Series(labels, dtype=pl.String))
    segments = list(dict.fromkeys(labels))
    shown = segments[:max_segments]
    models = list(dict.fromkeys(frame["model"].to_list()))
    drawn = [m for m in _METRIC_MARKERS if m in report.columns]
    slots = max(len(models) * len(drawn), 1)
    height = 0.8 / slots
    position = {segment: i for i, segment in enumerate(shown)}
    handles: list[Artist] = []
    for k, model in enumerate(models):
        colour = f"C{k % 10}"
        rows = frame.filter(
            (pl.col("model") == model) & pl.col("_segment").is_in(shown)
        )
        for j, metric in enumerate(drawn):
            slot = k * len(drawn) + j
            y = [position[s] - 0.4 + height * (slot + 0.5) for s in rows["_segment"]]
            _draw_metric(ax, rows, metric, y, colour=colour)
        handles.append(
            lines.Line2D([], [], color=colour, marker="s", ls="", label=str(model))
        )
    if len(drawn) > 1:
        for metric in drawn:
            marker, filled = _METRIC_MARKERS[metric]
            handles.append(
                lines.Line2D(
                    [],
                    [],
                    color="black",
                    marker=marker,
                    ls="",
                    markerfacecolor="black" if filled else "white",
                    label=metric.upper(),
                )
            )
    ax.set_yticks(range(len(shown)), [_wrapped(s, _SEGMENT_LABEL_WIDTH) for s in shown])
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(left=0)
    # RMSE is often in money or other large units: 250k, not 250000.
    ax.xaxis.set_major_formatter(lambda x, _: compact_number(x))
    ax.xaxis.set_major_locator(_import("matplotlib.ticker").MaxNLocator(nbins=5))
    ax.set_xlabel(
        _rmse_label(
            intervals={"rmse_low", "rmse_high"} <= set(report.columns),
            confidence=confidence,
            # The report has weight_sum exactly when it was weighted.
            weighted="weight_sum" in report.columns if weighted is None else weighted,
            mae=len(drawn) > 1,
        )
    )
    ax.set_ylabel(_SEGMENT_SEPARATOR.join(by) if by else "")
    title = "RMSE and MAE per segment" if len(drawn) > 1 else "RMSE per segment"
    if len(segments) > len(shown):
        title += f" (first {len(shown)} of {len(segments)})"
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    _legend_outside(ax, handles, "model")


_SHARE_OF_ROWS = "share of rows, largest squared error first"
_SHARE_OF_SSE = "share of SSE"


def _draw_concentration(
    ax: Axes, curve: pl.DataFrame, *, title: str, alone: bool = True
) -> None:
    """Draw every model's curve on `ax`; `alone` labels the axes and the legend.

    In a grid of panels (not `alone`), the figure carries one axis label of
    each kind and one legend, outside the panels: labels repeated under each
    panel would run into each other, and a legend inside a small panel
    covers its curves.
    """
    for model in dict.fromkeys(curve["model"].to_list()):
        rows = curve.filter(pl.col("model") == model)
        ax.plot(
            rows["share_of_rows"].to_numpy(),
            rows["share_of_sse"].to_numpy(),
            label=str(model),
        )
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="equal errors")
    # The report's top_1pct_share is the height of each curve at this line.
    ax.axvline(
        0.01, linestyle="--", color="grey", linewidth=0.8, label="top 1% of rows"
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if alone:
        ax.set_xlabel(_SHARE_OF_ROWS)
        ax.set_ylabel(_SHARE_OF_SSE)
        # Each curve lies above the diagonal, so the lower right is empty.
        ax.legend(title="model", loc="lower right")


def _curve_segments(curve: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Return a curve's key columns and one label per row (none when pooled)."""
    keys = [name for name in curve.columns if name not in _CURVE_COLUMNS]
    if not keys:
        return keys, []
    return keys, curve.select(_segment_label(keys)).to_series().to_list()


_CONCENTRATION_TITLE = "Where the squared error comes from"
#: The font size of a panel's title, in points.
_PANEL_TITLE_SIZE = 10
#: The most characters of a line of a segment's label on the RMSE plot's axis.
_SEGMENT_LABEL_WIDTH = 28


def _wrapped(label: str, width: int) -> str:
    """Return `label` on at most two lines of `width` characters, cut with "…".

    Examples
    --------
    >>> _wrapped("north", 10)
    'north'
    >>> print(_wrapped("coastal luxury homes with a sea view", 15))
    coastal luxury
    homes with a…
    """
    if len(label) <= width:
        return label
    return textwrap.fill(label, width, max_lines=2, placeholder="…")


def _draw_curves(
    target: Figure | SubFigure, curve: pl.DataFrame, max_segments: int
) -> None:
    """Draw the pooled curve on one axes, or each segment's on a grid of axes."""
    keys, labels = _curve_segments(curve)
    if not keys:
        _draw_concentration(target.add_subplot(), curve, title=_CONCENTRATION_TITLE)
        return
    frame = curve.with_columns(_segment=pl.Series(labels, dtype=pl.String))
    segments = list(dict.fromkeys(labels))
    shown = segments[:max_segments]
    columns_ = min(3, len(shown))
    # Characters of a title line that fit above one panel (a character is
    # about 0.6 of the font size wide; the panel has about 3/4 of its share).
    panel = target.bbox.width / target.dpi / columns_ * 72 * 0.75
    width = max(8, int(panel / (_PANEL_TITLE_SIZE * 0.6)))
    axes = target.subplots(
        math.ceil(len(shown) / columns_), columns_, squeeze=False
    ).ravel()
    for ax, segment in zip(axes, shown, strict=False):
        rows = frame.filter(pl.col("_segment") == segment).drop("_segment")
        _draw_concentration(ax, rows, title="", alone=False)
        # A long segment label takes two lines at most, not its neighbour's room.
        ax.set_title(_wrapped(segment, width), fontsize=_PANEL_TITLE_SIZE)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    # Right of the panels: the margins below and above hold the axis label
    # and the title, and constrained layout would overlap two of them.
    target.legend(handles, names, loc="outside right center", frameon=False)
    target.supxlabel(_SHARE_OF_ROWS)
    target.supylabel(_SHARE_OF_SSE)
    title = f"{_CONCENTRATION_TITLE}, per {_SEGMENT_SEPARATOR.join(keys)}"
    if len(segments) > len(shown):
        title += f" (first {len(shown)} of {len(segments)})"
    target.suptitle(title)


def plot_report(
    report: pl.DataFrame,
    *,
    path: str | PathLike[str] | None = None,
    max_segments: int = 30,
    confidence: float = 0.95,
    weighted: bool | None = None,
) -> Figure:
    """Draw RMSE per segment and model, with its confidence interval.

    The axis label says the interval's level and whether the RMSE is
    weighted.

    Parameters
    ----------
    report
        The output of :func:`polars_l2.report`: columns ``model``, the ``by``
        columns, ``rmse`` and, for the error bars, ``rmse_low`` and
        ``rmse_high``. Columns the plot does not use are ignored.
    path
        Where to write the figure, in the format its extension names
        (``.png``, ``.svg``, ``.pdf``, any of :func:`supported_formats`);
        ``None`` writes nothing.
    max_segments
        Draw at most this many segments, in the report's row order; the title
        says when some were left out.
    confidence
        The level the report's interval was computed at (the `confidence`
        given to :func:`polars_l2.report`), for the label.
    weighted
        Whether the report was weighted, for the label; ``None`` reads it
        from the report (it has ``weight_sum`` exactly when weighted).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, for further changes or saving in another format.

    Raises
    ------
    ImportError
        Without matplotlib; install ``polars-l2[plot]``.
    ValueError
        If `report` has no ``model`` or ``rmse`` column, or `path`'s
        extension names no format matplotlib writes.

    References
    ----------
    .. [1] G. W. Oehlert, "A note on the delta method", *The American
           Statistician* 46(1), 27-29, 1992 (the RMSE interval drawn).

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2.plot import plot_report
    >>> report = pl.DataFrame(
    ...     {
    ...         "model": ["a", "a", "b", "b"],
    ...         "region": ["north", "south", "north", "south"],
    ...         "rmse": [1.0, 2.0, 1.5, 4.0],
    ...         "rmse_low": [0.8, 1.5, 1.2, 2.0],
    ...         "rmse_high": [1.2, 2.5, 1.8, 6.0],
    ...     }
    ... )
    >>> figure = plot_report(report)
    >>> [label.get_text() for label in figure.axes[0].get_yticklabels()]
    ['north', 'south']
    >>> figure.axes[0].get_xlabel()
    'RMSE (unweighted); bars: 95% confidence interval'
    """
    _check_report(report, max_segments, function="plot_report")
    figure = _new_figure(7.0, 1.5 + 0.45 * min(report.height, max_segments))
    _draw_rmse(
        figure.add_subplot(),
        report,
        max_segments=max_segments,
        confidence=confidence,
        weighted=weighted,
    )
    return _finish(figure, path)


def plot_concentration(
    curve: pl.DataFrame,
    *,
    path: str | PathLike[str] | None = None,
    max_segments: int = 12,
) -> Figure:
    """Draw the squared-error concentration curve of each model.

    A curve computed with ``by`` (one per segment) is drawn as a grid of
    panels, one per segment, each with every model's curve.

    Parameters
    ----------
    curve
        The output of :func:`concentration_curve`, with or without ``by``.
    path
        Where to write the figure, in the format its extension names;
        ``None`` writes nothing.
    max_segments
        Draw at most this many segments' panels; the title says when some
        were left out.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ImportError
        Without matplotlib; install ``polars-l2[plot]``.

    References
    ----------
    .. [1] M. O. Lorenz, "Methods of measuring the concentration of wealth",
           *Publications of the American Statistical Association* 9(70),
           209-219, 1905.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2.plot import concentration_curve, plot_concentration
    >>> df = pl.DataFrame({"y": [0.0] * 10, "yhat": [10.0] + [1.0] * 9})
    >>> figure = plot_concentration(concentration_curve(df, "y", "yhat"))
    >>> figure.axes[0].get_title()
    'Where the squared error comes from'
    >>> df = df.with_columns(g=pl.Series(["a", "b"] * 5))
    >>> figure = plot_concentration(concentration_curve(df, "y", "yhat", by="g"))
    >>> [ax.get_title() for ax in figure.axes]
    ['a', 'b']
    """
    _check_curve(curve, max_segments, function="plot_concentration")
    panels = min(curve.select(_curve_segments(curve)[0]).n_unique(), max_segments)
    rows = math.ceil(panels / 3) if panels > 1 else 1
    figure = _new_figure(6.0 if panels <= 1 else 12.0, 4.5 * rows)
    _draw_curves(figure, curve, max_segments)
    return _finish(figure, path)


def plot_evaluation(
    report: pl.DataFrame,
    curve: pl.DataFrame,
    *,
    path: str | PathLike[str] | None = None,
    max_segments: int = 30,
    confidence: float = 0.95,
    weighted: bool | None = None,
) -> Figure:
    """Draw the RMSE per segment and the concentration curve side by side.

    This is the figure ``polars-l2 evaluate --plot FILE`` writes. A curve
    computed with ``by`` is drawn as one panel per segment (at most 12).

    Parameters
    ----------
    report
        The output of :func:`polars_l2.report`.
    curve
        The output of :func:`concentration_curve` on the same data.
    path
        Where to write the figure, in the format its extension names;
        ``None`` writes nothing.
    max_segments
        As for :func:`plot_report`.
    confidence
        As for :func:`plot_report`.
    weighted
        As for :func:`plot_report`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: the RMSE axes first, then the curves' axes.

    Raises
    ------
    ImportError
        Without matplotlib; install ``polars-l2[plot]``.

    References
    ----------
    .. [1] G. W. Oehlert, "A note on the delta method", *The American
           Statistician* 46(1), 27-29, 1992 (the RMSE interval).
    .. [2] M. O. Lorenz, "Methods of measuring the concentration of wealth",
           *Publications of the American Statistical Association* 9(70),
           209-219, 1905 (the concentration curve).

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2.plot import concentration_curve, plot_evaluation
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "yhat": [1.5, 2.0, 2.0, 9.0]})
    >>> report = pl.DataFrame({"model": ["yhat"], "rmse": [2.56]})
    >>> figure = plot_evaluation(report, concentration_curve(df, "y", "yhat"))
    >>> len(figure.axes)
    2
    """
    _check_report(report, max_segments, function="plot_evaluation")
    _check_curve(curve, max_segments, function="plot_evaluation")
    shown = min(report.height, max_segments)
    figure = _new_figure(12.0, max(4.5, 1.5 + 0.45 * shown))
    left, right = figure.subfigures(1, 2, squeeze=False)[0]
    _draw_rmse(
        left.add_subplot(),
        report,
        max_segments=max_segments,
        confidence=confidence,
        weighted=weighted,
    )
    _draw_curves(right, curve, 12)
    return _finish(figure, path)


#: The columns of :func:`polars_l2.compare` that are not segment keys.
_COMPARE_COLUMNS = frozenset(COMPARE_COLUMNS)

_VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red"}
#: The legend of the forest plot: each verdict's marker, in this order.
_VERDICT_LEGEND = {
    "better": ("better (significant)", "tab:green", True),
    "worse": ("worse (significant)", "tab:red", True),
    "inconclusive": ("inconclusive", "tab:gray", False),
    None: ("small: no verdict", "silver", False),
}
_RATIO_LABEL = (
    "{} ratio, candidate / baseline (log scale; left of 1: the candidate "
    "is better; bars: confidence interval)"
)

#: What the mean of each loss of :func:`polars_l2.compare` is called.
_LOSS_LABELS = {"squared": "MSE", "absolute": "MAE", "huber": "Mean Huber loss"}


def _losses(comparison: pl.DataFrame) -> list[str]:
    """Return the losses of a comparison (a table without ``loss``: squared)."""
    if "loss" not in comparison.columns:
        return ["squared"]
    return comparison.get_column("loss").unique(maintain_order=True).to_list()


def _loss_label(comparison: pl.DataFrame) -> str:
    """Return what the table's mean loss is called (several losses: "Mean loss")."""
    losses = _losses(comparison)
    return _LOSS_LABELS.get(losses[0], "Mean loss") if len(losses) == 1 else "Mean loss"


def _ratios(rows: pl.DataFrame) -> pl.DataFrame:
    """Return each row's mean loss ratio and its interval: 1 + loss_diff / baseline's.

    The interval of the difference, divided by the baseline's mean loss
    (``mean_loss_baseline``; the MSE for the squared loss): the same
    test on a scale where every segment's change is relative, so a small
    segment's is as visible as a large one's. Null where the baseline's loss
    is not positive.
    """
    baseline = pl.col("mean_loss_baseline").cast(pl.Float64)
    valid = baseline > 0

    def ratio(diff: str) -> pl.Expr:
        return pl.when(valid).then(1.0 + pl.col(diff).cast(pl.Float64) / baseline)

    return rows.select(
        ratio=ratio("loss_diff"),
        low=ratio("loss_diff_low"),
        high=ratio("loss_diff_high"),
    )


def _ratio_axis(ax: Axes, ratios: pl.DataFrame) -> float:
    """Set the log-scale axis around every ratio and bar end; return its left end."""
    ticker = _import("matplotlib.ticker")
    values = pl.concat([ratios[c] for c in ratios.columns]).drop_nulls()
    values = values.filter(values.is_finite() & (values > 0))
    low = min(float(values.min()), 1.0) if values.len() else 0.5  # type: ignore[arg-type]
    high = max(float(values.max()), 1.0) if values.len() else 2.0  # type: ignore[arg-type]
    left, right = low / 1.3, high * 1.3
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    decades = math.log10(right / left)
    # Ticks at 1, 2 and 5 per decade on a short axis, one per decade on a long one.
    subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:g}")
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    return left


def _comparison_rows(comparison: pl.DataFrame, max_segments: int) -> pl.DataFrame:
    _check_frame(
        comparison,
        argument="comparison",
        function="plot_comparison",
        source="polars_l2.compare",
        needed=(
            "model",
            "overall",
            "mean_loss_baseline",
            "loss_diff",
            "loss_diff_low",
            "loss_diff_high",
        ),
    )
    options.check("polars_l2.plot.plot_comparison", max_segments=max_segments)
    keys = [c for c in comparison.columns if c not in _COMPARE_COLUMNS]
    segment = _segment_label(keys) if keys else pl.lit("")
    model = pl.col("model")
    if len(_losses(comparison)) > 1:
        # One row per loss too: say which.
        model = pl.concat_str(model, pl.lit(" ("), pl.col("loss"), pl.lit(")"))
    label = pl.concat_str(
        model,
        pl.when(pl.col("overall")).then(pl.lit("all rows")).otherwise(segment),
        separator=": ",
    )
    rows = (
        comparison.with_columns(label.alias("_label"))
        .sort("overall", descending=True, maintain_order=True)
        .head(max_segments)
    )
    if "verdict" not in rows.columns:
        rows = rows.with_columns(verdict=pl.lit(None, dtype=pl.String))
    return rows


def plot_comparison(
    comparison: pl.DataFrame,
    *,
    max_segments: int = 40,
    path: str | PathLike[str] | None = None,
) -> Figure:
    """Draw a forest plot of :func:`polars_l2.compare`: the loss ratio per segment.

    One row per candidate and segment (the overall row first; with several
    losses, per loss, labelled): the ratio of the candidate's mean loss (the
    MSE by default) to the baseline's, ``1 + loss_diff / mean_loss_baseline``
    (one minus ``skill``), with the confidence interval of ``loss_diff`` on
    the same scale, around a vertical line at one, on a log scale: a halving
    and a doubling are as far from one, and every segment's change is
    visible whatever the size of its errors. Left of one the candidate is
    better. A filled green (better) or red (worse) marker is a significant
    verdict at the adjusted level; a hollow one is inconclusive, or small
    (no verdict); the legend says which. A bar whose lower end is not
    positive ends in an arrow at the left edge. A segment whose baseline
    loss is zero has no ratio and no marker.

    Parameters
    ----------
    comparison
        The output of :func:`polars_l2.compare`.
    max_segments
        Draw at most this many rows (the first ones).
    path
        Where to write the figure, in the format its extension names;
        ``None`` writes nothing.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        If `comparison` lacks the columns of :func:`polars_l2.compare`.
    ImportError
        If matplotlib is not installed.

    References
    ----------
    .. [1] S. Lewis and M. Clarke, "Forest plots: trying to see the wood and
           the trees", *BMJ* 322, 1479-1480, 2001.
    .. [2] D. Harvey, S. Leybourne and P. Newbold, "Testing the equality of
           prediction mean squared errors", *International Journal of
           Forecasting* 13(2), 281-291, 1997 (the test whose intervals it draws).

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> from polars_l2.plot import plot_comparison
    >>> df = pl.DataFrame(
    ...     {
    ...         "g": ["a", "a", "a", "b", "b", "b"],
    ...         "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "old": [1.5, 2.6, 2.4, 4.7, 4.2, 6.8],
    ...         "new": [1.1, 2.2, 2.9, 4.1, 4.8, 6.3],
    ...     }
    ... )
    >>> table = polars_l2.compare(df, "y", "old", "new", by="g", min_n=4)
    >>> figure = plot_comparison(table)
    >>> figure.axes[0].get_xscale()
    'log'
    >>> [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    ['better (significant)', 'small: no verdict']
    """
    lines = _import("matplotlib.lines")
    rows = _comparison_rows(comparison, max_segments)
    ratios = _ratios(rows)
    figure = _new_figure(9.0, 1.7 + 0.3 * rows.height)
    ax = figure.add_subplot()
    left = _ratio_axis(ax, ratios)
    seen: list[str | None] = []
    for i, (verdict, ratio, low, high) in enumerate(
        zip(rows["verdict"], *(ratios[c] for c in ratios.columns), strict=True)
    ):
        if ratio is None or not math.isfinite(ratio):
            continue
        name, colour, filled = _VERDICT_LEGEND.get(verdict, _VERDICT_LEGEND[None])
        if low is not None and high is not None:
            start = low if low > 0 else left
            ax.plot([start, high], [i, i], color=colour, linewidth=1.5)
            if low <= 0:
                ax.plot([left], [i], marker="<", color=colour, ls="", clip_on=False)
        ax.plot(
            [ratio],
            [i],
            "o",
            color=colour,
            markerfacecolor=colour if filled else "white",
        )
        seen.append(verdict if verdict in _VERDICT_LEGEND else None)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(rows.height), rows["_label"].to_list())
    ax.set_ylim(rows.height - 0.5, -0.5)
    what = _loss_label(comparison)
    ax.set_xlabel(_RATIO_LABEL.format(what))
    title = f"Is the candidate better? {what} ratio per segment"
    if comparison.height > rows.height:
        title += f"; first {rows.height} of {comparison.height}"
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    handles: list[Artist] = []
    for verdict, (name, colour, filled) in _VERDICT_LEGEND.items():
        if verdict in seen:
            handles.append(
                lines.Line2D(
                    [],
                    [],
                    color=colour,
                    marker="o",
                    ls="-",
                    label=name,
                    markerfacecolor=colour if filled else "white",
                )
            )
    _legend_outside(ax, handles, "verdict")
    return _finish(figure, path)


def reliability_curve(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    loss: Literal["squared", "absolute"] = "squared",
    bins: int | Sequence[float] | None = 100,
    nan_policy: NanPolicy = "propagate",
) -> pl.DataFrame:
    """Return the reliability diagram's table: per bin, actual against predicted.

    The table behind :func:`polars_l2.decompose`: per model, segment and
    bin of the predictions, the mean prediction, the mean (``loss=
    "squared"``) or median (``"absolute"``) of the actual values, and the
    isotonic fit, the recalibrated prediction that is monotone in the
    prediction. A calibrated model's points lie on the diagonal; the fit's
    distance from it is the miscalibration. Plain Polars and scipy; needs
    no extra.

    Parameters
    ----------
    frame, actual, predicted, by, weight, loss, nan_policy
        As in :func:`polars_l2.decompose`.
    bins
        As in :func:`polars_l2.decompose`, but 100 quantile bins by
        default: a diagram needs no more points.

    Returns
    -------
    DataFrame
        ``model`` (String), the `by` keys, ``predicted``, ``actual``,
        ``fit`` (Float64, in the target's units) and ``weight`` (Float64,
        the bin's weight: its row count unweighted), one row per non-empty
        bin, by increasing prediction.

    Raises
    ------
    L2InputError
        As :func:`polars_l2.decompose`.

    References
    ----------
    .. [1] T. Dimitriadis, T. Gneiting and A. I. Jordan, "Stable reliability
           diagrams for probabilistic classifiers", *PNAS* 118(8),
           e2016191118, 2021.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2.plot import reliability_curve
    >>> df = pl.DataFrame({"y": [0.0, 0.0, 1.0, 1.0], "yhat": [-1.0, 1.0, 1.0, 2.0]})
    >>> reliability_curve(df, "y", "yhat", bins=None)
    shape: (3, 5)
    ┌───────┬───────────┬────────┬─────┬────────┐
    │ model ┆ predicted ┆ actual ┆ fit ┆ weight │
    │ ---   ┆ ---       ┆ ---    ┆ --- ┆ ---    │
    │ str   ┆ f64       ┆ f64    ┆ f64 ┆ f64    │
    ╞═══════╪═══════════╪════════╪═════╪════════╡
    │ yhat  ┆ -1.0      ┆ 0.0    ┆ 0.0 ┆ 1.0    │
    │ yhat  ┆ 1.0       ┆ 0.5    ┆ 0.5 ┆ 2.0    │
    │ yhat  ┆ 2.0       ┆ 1.0    ┆ 1.0 ┆ 1.0    │
    └───────┴───────────┴────────┴─────┴────────┘
    """
    function = "polars_l2.plot.reliability_curve"
    options.check(function, score_loss=loss, bins=bins, nan_policy=nan_policy)
    table = _decompose.bin_table(
        frame,
        actual,
        predicted,
        by=by,
        weight=weight,
        loss=loss,
        bins=bins,
        nan_policy=nan_policy,
        function=function,
    )
    return table.curve()


def _panels(
    table: pl.DataFrame, own: Sequence[str], max_segments: int
) -> tuple[list[str], list[tuple[str, pl.DataFrame]], int]:
    """Split a table by segment: its keys, (label, rows) per panel, and the total."""
    keys = [name for name in table.columns if name not in own]
    if not keys:
        return keys, [("", table)], 1
    labelled = table.with_columns(_segment_label(keys).alias("_l2_segment"))
    segments = list(dict.fromkeys(labelled.get_column("_l2_segment").to_list()))
    panels = [
        (segment, labelled.filter(pl.col("_l2_segment") == segment))
        for segment in segments[:max_segments]
    ]
    return keys, panels, len(segments)


def _grid(
    count: int, width: float = 4.5, height: float = 3.8
) -> tuple[Figure, list[Axes]]:
    columns_ = min(3, count)
    rows = math.ceil(count / columns_)
    figure = _new_figure(width * columns_ + 0.5, height * rows + 0.6)
    axes = list(figure.subplots(rows, columns_, squeeze=False).ravel())
    for ax in axes[count:]:
        ax.set_visible(False)
    return figure, axes[:count]


def _suptitle(
    figure: Figure, title: str, keys: list[str], shown: int, total: int
) -> None:
    if keys:
        title += f", per {_SEGMENT_SEPARATOR.join(keys)}"
    if total > shown:
        title += f" (first {shown} of {total})"
    figure.suptitle(title)


#: Characters of a title line above a panel of :func:`_grid` (4.5 inches).
_PANEL_TITLE_WIDTH = 40


def _panel_title(segment: str, note: str) -> str:
    """Return a panel's title: its segment on one line, then `note` on another."""
    lines = [textwrap.shorten(segment, _PANEL_TITLE_WIDTH, placeholder="…")]
    if note:
        lines.append(textwrap.shorten(note, _PANEL_TITLE_WIDTH, placeholder="…"))
    return "\n".join(line for line in lines if line)


def _figure_legend(figure: Figure, axes: list[Axes], title: str) -> None:
    """One legend for every panel, right of them, where it covers no data."""
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, title=title, loc="outside right upper")


_MURPHY_COLUMNS = ("model", "baseline", *_murphy.COLUMNS)


def plot_murphy(
    table: pl.DataFrame,
    *,
    path: str | PathLike[str] | None = None,
    max_segments: int = 12,
) -> Figure:
    """Draw Murphy diagrams: mean elementary score against θ, per segment.

    Without a baseline, each model's curve (lower is better at every θ);
    with one, each model's difference from the baseline with its pointwise
    interval around zero (below zero: better), the dominance verdicts in
    each panel's title.

    Parameters
    ----------
    table
        The output of :func:`polars_l2.murphy`.
    path
        Where to write the figure, in the format its extension names;
        ``None`` writes nothing.
    max_segments
        Draw at most this many segments' panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one axes per segment.

    Raises
    ------
    ImportError
        Without matplotlib; install ``polars-l2[plot]``.
    ValueError
        If `table` lacks the columns of :func:`polars_l2.murphy`.

    References
    ----------
    .. [1] W. Ehm, T. Gneiting, A. Jordan and F. Krüger, "Of quantiles and
           expectiles: consistent scoring functions, Choquet representations
           and forecast rankings", *Journal of the Royal Statistical
           Society B* 78(3), 505-562, 2016.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> from polars_l2.plot import plot_murphy
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "a": [1.5, 2.0, 2.0, 5.0]})
    >>> df = df.with_columns(b=pl.col("y") + 0.1)
    >>> figure = plot_murphy(polars_l2.murphy(df, "y", ["a", "b"], thetas=8))
    >>> figure.axes[0].get_xlabel()
    'θ'
    """
    if not {"model", "theta", "score"} <= set(table.columns):
        msg = (
            "plot_murphy expects the output of polars_l2.murphy, with columns "
            f"model, theta and score; got columns {table.columns}"
        )
        raise ValueError(msg)
    paired = "score_diff" in table.columns
    keys, panels, total = _panels(table, _MURPHY_COLUMNS, max_segments)
    figure, axes = _grid(len(panels))
    for ax, (segment, rows) in zip(axes, panels, strict=True):
        verdicts: list[str] = []
        for model in dict.fromkeys(rows.get_column("model").to_list()):
            mine = rows.filter(pl.col("model") == model)
            theta = mine.get_column("theta").to_numpy()
            if not paired:
                ax.plot(theta, mine.get_column("score").to_numpy(), label=str(model))
                continue
            verdicts.append(
                f"{model} {mine.get_column('dominance').drop_nulls().first()!s}"
            )
            (line,) = ax.plot(
                theta, mine.get_column("score_diff").to_numpy(), label=str(model)
            )
            ax.fill_between(
                theta,
                mine.get_column("score_diff_low").fill_null(float("nan")).to_numpy(),
                mine.get_column("score_diff_high").fill_null(float("nan")).to_numpy(),
                color=line.get_color(),
                alpha=0.2,
            )
        if paired:
            ax.axhline(0.0, color="black", linewidth=0.8)
            baseline = str(rows.get_column("baseline").first())
            ax.set_ylabel(f"score difference from {baseline}")
        else:
            ax.set_ylabel("mean elementary score")
        ax.set_xlabel("θ")
        ax.set_title(
            _panel_title(segment, ", ".join(verdicts)), fontsize=_PANEL_TITLE_SIZE
        )
        ax.grid(alpha=0.3)
    _figure_legend(figure, axes, "model")
    title = "Murphy diagram" + (" (bands: pointwise intervals)" if paired else "")
    _suptitle(figure, title, keys, len(panels), total)
    return _finish(figure, path)


_RELIABILITY_COLUMNS = ("model", "predicted", "actual", "fit", "weight")


def plot_reliability(
    curve: pl.DataFrame,
    *,
    path: str | PathLike[str] | None = None,
    max_segments: int = 12,
) -> Figure:
    """Draw reliability diagrams: actual against predicted, with the isotonic fit.

    Per segment, each model's bins as points (area by weight) and its
    isotonic fit as a step line, around the diagonal of perfect
    calibration.

    Parameters
    ----------
    curve
        The output of :func:`reliability_curve`.
    path
        Where to write the figure, in the format its extension names;
        ``None`` writes nothing.
    max_segments
        Draw at most this many segments' panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one axes per segment.

    Raises
    ------
    ImportError
        Without matplotlib; install ``polars-l2[plot]``.
    ValueError
        If `curve` lacks the columns of :func:`reliability_curve`.

    References
    ----------
    .. [1] T. Dimitriadis, T. Gneiting and A. I. Jordan, "Stable reliability
           diagrams for probabilistic classifiers", *PNAS* 118(8),
           e2016191118, 2021.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2.plot import plot_reliability, reliability_curve
    >>> df = pl.DataFrame({"y": [0.0, 0.0, 1.0, 1.0], "yhat": [-1.0, 1.0, 1.0, 2.0]})
    >>> figure = plot_reliability(reliability_curve(df, "y", "yhat"))
    >>> figure.axes[0].get_xlabel()
    'predicted (bin mean)'
    """
    if not set(_RELIABILITY_COLUMNS) <= set(curve.columns):
        msg = (
            "plot_reliability expects the output of reliability_curve, with "
            f"columns {list(_RELIABILITY_COLUMNS)}; got columns {curve.columns}"
        )
        raise ValueError(msg)
    keys, panels, total = _panels(curve, _RELIABILITY_COLUMNS, max_segments)
    figure, axes = _grid(len(panels))
    for ax, (segment, rows) in zip(axes, panels, strict=True):
        largest = max(float(rows.get_column("weight").to_numpy().max()), 1e-300)
        for model in dict.fromkeys(rows.get_column("model").to_list()):
            mine = rows.filter(pl.col("model") == model)
            x = mine.get_column("predicted").to_numpy()
            (line,) = ax.step(
                x, mine.get_column("fit").to_numpy(), where="mid", label=str(model)
            )
            ax.scatter(
                x,
                mine.get_column("actual").to_numpy(),
                s=4 + 60 * mine.get_column("weight").to_numpy() / largest,
                color=line.get_color(),
                alpha=0.4,
            )
        low = float(
            rows.select(pl.min_horizontal(pl.col("predicted", "actual").min())).item()
            or 0.0
        )
        high = float(
            rows.select(pl.max_horizontal(pl.col("predicted", "actual").max())).item()
            or 1.0
        )
        ax.plot(
            [low, high], [low, high], linestyle=":", color="grey", label="calibrated"
        )
        ax.set_xlabel("predicted (bin mean)")
        ax.set_ylabel("actual (bin mean or median)")
        ax.set_title(_panel_title(segment, ""), fontsize=_PANEL_TITLE_SIZE)
        ax.grid(alpha=0.3)
    _figure_legend(figure, axes, "model; line: isotonic fit")
    _suptitle(figure, "Reliability diagram", keys, len(panels), total)
    return _finish(figure, path)
