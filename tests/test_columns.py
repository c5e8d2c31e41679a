"""Column names are literal in every role and path; options are checked by one table.

The reference for a column with an odd name is the same data under a plain
name: renaming a column must change nothing but the names in the result.
Each frame holds decoys, columns that a name read as a pattern would pick
(``^y$`` reads ``y``, ``*`` every column), with values that give another
answer, so that misreading a name cannot pass.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import polars.selectors as cs
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2 import cli

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: Names Polars would read as patterns, names with regex metacharacters,
#: dots, spaces, unicode, the empty name, and names of the queries' own
#: temporary columns.
ODD_NAMES = [
    "^y$",
    "*",
    "^.*$",
    "a.*",
    "^p$",
    "a.b",
    "(x|y)+[0-9]?",
    "with space",
    "größe ✓",
    "",
    "_bin",
    "_x",
    "_w",
    "_mass",
    "_l2_actual",
    "_l2_by_0",
    "_l2_predicted_0",
    "_l2_model_0_n",
    "_l2_order",
    "_l2_top",
    "_l2_top_0",
    "_l2_moments",
    "_l2_output",
]

#: The plain name of each role in the reference frame.
PLAIN = {"actual": "y", "predicted": "p", "by": "g", "weight": "w"}


def base(seed: int = 0, n: int = 40) -> pl.DataFrame:
    """Plain columns y, p, q (a second model), g (keys), w, and a spare v."""
    rng = np.random.default_rng(seed)
    y = rng.normal(10.0, 3.0, n)
    return pl.DataFrame(
        {
            "y": y,
            "p": y + rng.normal(0.5, 1.0, n),
            "q": y + rng.normal(-1.0, 2.0, n),
            "g": rng.choice(["a", "b", "c"], n),
            "w": rng.gamma(2.0, 1.0, n),
            # The values an odd-named column holds: unlike any other column.
            "v": rng.normal(7.0, 5.0, n),
        }
    )


def odd_frame(role: str, name: str, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (frame with `role` read from the column `name`, plain reference).

    In the odd frame the role's column is `name` and holds the spare values
    ``v``; the plain columns stay as decoys. The reference holds the same
    values under the role's plain name.
    """
    df = base(seed)
    plain = PLAIN[role]
    values = pl.col("v") if role != "by" else pl.col("v").round(0).cast(pl.String)
    if role == "weight":
        values = pl.col("v").abs()
    odd = df.with_columns(values.alias(name)).drop("v")
    reference = df.with_columns(values.alias(plain)).drop("v")
    return odd, reference


def arguments(role: str, name: str) -> dict[str, Any]:
    """Return the arguments of a weighted, segmented call, `role` from `name`."""
    chosen = {**PLAIN, role: name}
    return {
        "actual": chosen["actual"],
        "predicted": [chosen["predicted"], "q"],
        "by": chosen["by"],
        "weight": chosen["weight"],
    }


def renamed(result: pl.DataFrame, role: str, name: str) -> pl.DataFrame:
    """Return the reference's result with the role's plain name now `name`."""
    if role == "predicted":
        return result.with_columns(pl.col("model").replace({PLAIN["predicted"]: name}))
    if role == "by":
        return result.rename({PLAIN["by"]: name})
    return result


def _report(frame: pl.DataFrame, args: dict[str, Any]) -> pl.DataFrame:
    return polars_l2.report(frame, **args)


def _lazy_report(frame: pl.DataFrame, args: dict[str, Any]) -> pl.DataFrame:
    return polars_l2.report(frame.lazy(), **args).collect(engine="streaming")


def _finalize_state(frame: pl.DataFrame, args: dict[str, Any]) -> pl.DataFrame:
    return polars_l2.finalize(polars_l2.state(frame, **args))


def _merge_chunks(frame: pl.DataFrame, args: dict[str, Any]) -> pl.DataFrame:
    chunks = [frame.slice(0, 13), frame.slice(13, 20), frame.slice(33)]
    states = [polars_l2.state(chunk.lazy(), **args).collect() for chunk in chunks]
    return polars_l2.finalize(polars_l2.merge_states(states[::-1]))


PATHS: dict[str, Callable[[pl.DataFrame, dict[str, Any]], pl.DataFrame]] = {
    "report": _report,
    "lazy report": _lazy_report,
    "state then finalize": _finalize_state,
    "merged chunks": _merge_chunks,
}


def _name_role_path() -> list[tuple[str, str, str]]:
    """Every name in every role, each pair on one path, the paths in turn.

    Across a name's four roles every path runs once, and every path meets
    every role with a quarter of the names: the paths share the column
    handling, so the full product (four times the cases) finds nothing more.
    """
    paths = list(PATHS)
    return [
        (name, role, paths[(i + j) % len(paths)])
        for i, name in enumerate(ODD_NAMES)
        for j, role in enumerate(PLAIN)
    ]


@pytest.mark.parametrize(("name", "role", "path"), _name_role_path())
def test_every_name_is_literal_in_every_role_and_path(
    name: str, role: str, path: str
) -> None:
    odd, reference = odd_frame(role, name)
    run = PATHS[path]
    got = run(odd, arguments(role, name))
    want = renamed(run(reference, arguments(role, PLAIN[role])), role, name)
    assert_frame_equal(got, want)


@pytest.mark.parametrize("name", ["^y$", "*", "_bin", "a.b", ""])
def test_one_column_in_several_roles(name: str) -> None:
    # The same odd column as a key and as the weight, and as two models.
    df = base(3).with_columns(pl.col("v").abs().alias(name))
    got = polars_l2.report(df, "y", [name, "p"], by=name, weight=name)
    column = df.get_column(name)
    reference = df.with_columns(column.alias("k"), column.alias("m"))
    want = polars_l2.report(reference, "y", ["m", "p"], by="k", weight="k")
    want = want.with_columns(pl.col("model").replace({"m": name})).rename({"k": name})
    assert_frame_equal(got, want)


def test_a_model_column_named_like_a_pattern_is_read_literally() -> None:
    df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "^y$": [1.5, 2.0, 3.0]})
    got = polars_l2.report(df, "y", "^y$")
    squares = [Fraction(1, 2) ** 2, Fraction(0), Fraction(1) ** 2]
    assert got["model"].to_list() == ["^y$"]
    assert got["mse"].item() == pytest.approx(float(sum(squares) / 3), rel=1e-15)
    assert got["mse"].item() == pytest.approx(0.416667, abs=1e-6)


def test_a_key_named_like_an_internal_column_is_a_key() -> None:
    df = pl.DataFrame({"_bin": ["a"], "y": [1.0], "p": [0.0]})
    got = polars_l2.report(df, "y", "p", by="_bin")
    assert got.height == 1
    assert got.select("model", "_bin", "n", "mse").row(0) == ("p", "a", 1, 1.0)


@pytest.mark.parametrize("name", ["^y$", "*", "a.b", "_l2_output", "output_"])
def test_vector_columns_with_odd_names(name: str) -> None:
    arrays = pl.DataFrame(
        {
            "y": [[1.0, 2.0], [3.0, 5.0]],
            "p": [[0.0, 2.0], [3.0, 1.0]],
            "g": ["a", "b"],
        },
        schema_overrides={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)},
    )
    odd = arrays.rename({"p": name}).with_columns(
        pl.lit([9.0, 9.0], pl.Array(pl.Float64, 2)).alias("p")
    )
    got = polars_l2.report(odd, "y", name, by="g")
    want = polars_l2.report(arrays, "y", "p", by="g").with_columns(
        pl.lit(name).alias("model")
    )
    assert_frame_equal(got, want)


@pytest.mark.parametrize(
    "name", ["model", "n", "weight_sum", "mse", "r2", "state_version", "weighted"]
)
def test_output_names_are_refused_as_keys(name: str) -> None:
    df = base().with_columns(pl.col("g").alias(name))
    for function in (polars_l2.report, polars_l2.state):
        with pytest.raises(
            polars_l2.L2InputError,
            match=rf"by column '{name}' has the name of an output column",
        ) as error:
            function(df, "y", "p", by=name)
        # The way out it suggests is taken: not a list of every moment.
        assert str(error.value).endswith(f".rename({{'{name}': '{name}_key'}})")
        renamed = df.rename({name: f"{name}_key"})
        assert function(renamed, "y", "p", by=f"{name}_key").height > 0
    with pytest.raises(
        polars_l2.L2InputError,
        match=rf"by column '{name}' has the name of an output column",
    ):
        polars_l2.state_schema(by={name: pl.String})


@pytest.mark.parametrize(
    ("by", "match"),
    [
        (
            pl.col("g"),
            r"by must be a column name or a list of column names \(the "
            r"name 'g', not an expression\), got Expr",
        ),
        (3, r"by must be a column name or a list of column names, got int 3"),
        ([pl.col("g")], r"by must be a column name .* got Expr"),
        (["g", 3.5], r"by must be a column name .* got float 3.5"),
        (["g", "g"], r"by names a column more than once"),
    ],
)
def test_by_must_be_names(by: object, match: str) -> None:
    df = base()
    for function in (polars_l2.report, polars_l2.state):
        with pytest.raises(polars_l2.L2InputError, match=match):
            function(df, "y", "p", by=by)  # type: ignore[call-overload]
    # state_schema takes the keys' dtypes too: a mapping of the same names.
    with pytest.raises(polars_l2.L2InputError, match=r"by must map each key"):
        polars_l2.state_schema(by=by)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("function", "kwargs", "match"),
    [
        (
            polars_l2.report,
            {"top_share": "no"},
            "top_share must be True or False, got 'no'",
        ),
        (polars_l2.report, {"top_share": 1}, "top_share must be True or False, got 1"),
        (polars_l2.report, {"confidence": True}, "confidence must be a number"),
        (polars_l2.report, {"confidence": math.nan}, "confidence must be a number"),
        (polars_l2.report, {"nan_policy": "drop"}, "nan_policy must be 'propagate' or"),
        (polars_l2.state, {"nan_policy": None}, "nan_policy must be 'propagate' or"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    function: Callable[..., Any], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(polars_l2.L2InputError, match=match):
        function(base(), "y", "p", **kwargs)


@pytest.mark.parametrize("weighted", ["yes", 1, 0.0])
def test_finalize_refuses_a_weighted_that_is_not_a_bool(weighted: object) -> None:
    state = polars_l2.state(base(), "y", "p")
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"finalize: weighted must be True, False or None, got",
    ):
        polars_l2.finalize(state, weighted=weighted)  # type: ignore[call-overload]
    with pytest.raises(polars_l2.L2InputError, match="weighted must be"):
        polars_l2.finalize(state.lazy(), weighted=weighted)  # type: ignore[call-overload]


# The expression functions: a string is a column name, literally.

FUNCTION_FRAME = pl.DataFrame(
    {
        "y": [1.0, 2.0, 4.0],
        "^y$": [1.5, 2.0, 3.0],
        "*": [2.0, 1.0, 1.0],
        "a.b": [1.0, 1.0, 2.0],
    }
)


def _weighted_mse(y: list[float], p: list[float], w: list[float]) -> float:
    num = sum(
        Fraction(wi) * (Fraction(yi) - Fraction(pi)) ** 2
        for yi, pi, wi in zip(y, p, w, strict=True)
    )
    return float(num / sum(Fraction(wi) for wi in w))


@pytest.mark.parametrize("metric", ["sse", "mse", "rmse"])
@pytest.mark.parametrize(
    ("actual", "predicted", "weight"),
    [
        ("y", "^y$", None),
        ("^y$", "y", None),
        ("y", "*", None),
        ("*", "a.b", "^y$"),
        ("y", "^y$", "*"),
        ("a.b", "y", "a.b"),
    ],
)
def test_expression_functions_read_names_literally(
    metric: str, actual: str, predicted: str, weight: str | None
) -> None:
    got = FUNCTION_FRAME.select(
        getattr(polars_l2, metric)(actual, predicted, weight=weight)
    )
    assert got.columns == [actual]
    y, p = FUNCTION_FRAME[actual].to_list(), FUNCTION_FRAME[predicted].to_list()
    w = FUNCTION_FRAME[weight].to_list() if weight else [1.0] * len(y)
    mse = _weighted_mse(y, p, w)
    want = {"mse": mse, "rmse": math.sqrt(mse), "sse": mse * math.fsum(w)}[metric]
    assert got.item() == pytest.approx(want, rel=1e-14)


def test_the_accessor_reads_names_literally() -> None:
    got = FUNCTION_FRAME.select(polars_l2.l2("^y$").mse("y"))
    assert got.item() == pytest.approx(float(Fraction(5, 12)), rel=1e-14)


@pytest.mark.parametrize(
    ("expr", "found"),
    [
        (pl.col("*"), "4: 'y', '^y$', '*', 'a.b'"),
        (pl.all(), "4:"),
        (pl.col("^a.*$"), None),
        (cs.numeric(), "4:"),
        (pl.col("y", "a.b"), "2: 'y', 'a.b'"),
    ],
)
@pytest.mark.parametrize("role", ["actual", "predicted", "weight"])
def test_an_expression_of_several_columns_is_refused(
    expr: pl.Expr, found: str | None, role: str
) -> None:
    frame = FUNCTION_FRAME.with_columns(pl.col("a.b").alias("a.c"))
    if found is None:
        found = "2: 'a.b', 'a.c'"
    elif found == "4:":
        found = "5: 'y', '^y$', '*', 'a.b', 'a.c'"
    else:
        found = found.replace("4:", "5:") + (", 'a.c'" if "'*'" in found else "")
    args: dict[str, pl.Expr | str | None] = {
        "actual": "y",
        "predicted": "y",
        "weight": None,
    }
    args[role] = expr
    for metric in ("mse", "sse", "rmse", "loss"):
        kwargs = {} if metric == "loss" else {"weight": args["weight"]}
        if metric == "loss" and role == "weight":
            continue
        query = frame.lazy().select(
            getattr(polars_l2, metric)(args["actual"], args["predicted"], **kwargs)
        )
        with pytest.raises(
            polars_l2.L2InputError, match=rf"{role} must be one column, but"
        ) as raised:
            query.collect_schema()
        assert found in str(raised.value)


def test_an_expression_of_one_column_by_pattern_is_accepted() -> None:
    got = FUNCTION_FRAME.select(polars_l2.mse(pl.col("^a\\..*$"), "y"))
    assert got.columns == ["a.b"]
    want = _weighted_mse([1.0, 1.0, 2.0], [1.0, 2.0, 4.0], [1.0] * 3)
    assert got.item() == pytest.approx(want, rel=1e-14)


def test_a_plain_mse_plan_is_unchanged() -> None:
    plan = pl.LazyFrame({"y": [1.0], "p": [2.0]}).select(polars_l2.mse("y", "p"))
    want = pl.LazyFrame({"y": [1.0], "p": [2.0]}).select(
        ((pl.col("y") - pl.col("p")) ** 2).mean()
    )
    assert plan.explain() == want.explain()


# The command line reads the same spec.


@pytest.mark.parametrize("name", ["^y$", "*", "a.b", "_bin", "with space"])
@pytest.mark.parametrize("role", ["actual", "predicted", "by", "weight"])
def test_command_line_reads_names_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], role: str, name: str
) -> None:
    odd, reference = odd_frame(role, name, seed=5)
    args = arguments(role, name)
    paths = [tmp_path / "one.parquet", tmp_path / "two.parquet"]
    odd.slice(0, 17).write_parquet(paths[0])
    odd.slice(17).write_parquet(paths[1])
    command = [
        "evaluate",
        "--actual",
        args["actual"],
        "--predicted",
        args["predicted"][0],
        "--predicted",
        args["predicted"][1],
        "--by",
        args["by"],
        "--weight",
        args["weight"],
        "--format",
        "json",
    ]
    for files in ([paths[0]], paths):
        status = cli.main([*command, *map(str, files)])
        out, err = capsys.readouterr()
        assert status == 0, err
        got = pl.read_json(out.encode()) if out.strip().startswith("[") else None
        assert got is not None, out
        rows = pl.concat([pl.read_parquet(f) for f in files])
        plain = reference.slice(0, rows.height)
        want = renamed(
            polars_l2.report(plain, **arguments(role, PLAIN[role])), role, name
        )
        assert got.get_column("n").to_list() == want.get_column("n").to_list()
        assert got.get_column("mse").to_list() == pytest.approx(
            want.get_column("mse").to_list(), rel=1e-12
        )
        key = name if role == "by" else "g"
        assert got.get_column(key).cast(pl.String).to_list() == (
            want.get_column(key).cast(pl.String).to_list()
        )
