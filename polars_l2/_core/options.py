"""Check the options of the public functions, in one place, by one table.

Every option a public function takes besides its columns (``nan_policy``,
``confidence``, ``top_share``, ``weighted``, ``multioutput``, ``width``...)
has one rule here: what it accepts, and how to say so. The public functions
call :func:`check` on entry, before any data is read, as scikit-learn's
``validate_params`` does; a bad option raises
:class:`polars_l2.L2InputError` naming the function, the option, the
accepted values and the value given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING

from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable

#: The accepted values of ``nan_policy``.
NAN_POLICIES = ("propagate", "omit")

#: The accepted multiplicity adjustments of :func:`polars_l2.compare`.
ADJUST = ("holm", "bh")

#: The losses of the paired test (:mod:`polars_l2._core.losses`).
LOSSES = ("squared", "absolute", "huber")

#: The variances of a (weighted) mean (:func:`polars_l2._core.metrics.mean_variance`).
VARIANCES = ("hc1", "hc0", "kish")

#: The named ways to combine the outputs of vector targets (``multioutput``).
MULTIOUTPUT_MODES = ("uniform_average", "raw_values", "sum")

#: The functionals of Murphy diagrams: what L2 and L1 estimate.
FUNCTIONALS = ("mean", "median")

#: The losses of the score decomposition (its option ``loss``: rule
#: ``score_loss``).
SCORE_LOSSES = ("squared", "absolute")


def _no_detail(value: object) -> str | None:  # noqa: ARG001 - the default
    return None


@dataclass(frozen=True)
class Rule:
    """What one option accepts."""

    #: Whether a value is accepted.
    accepts: Callable[[object], bool]
    #: The accepted values, as the error message says them.
    accepted: str
    #: What is wrong with a refused value, where that says more than
    #: "must be <accepted>" (None: say that).
    detail: Callable[[object], str | None] = _no_detail
    #: The option's name in messages, where the rule's name differs (two
    #: functions' options of one name that accept different values).
    named: str | None = None


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_level(value: object) -> bool:
    # bool is an int, but True is no confidence level.
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value < 1
    )


def _output_weights_problem(value: object) -> str | None:
    """Say what is wrong with a sequence of output weights, or None."""
    weights = tuple(value) if isinstance(value, Iterable) else ()
    if not weights:
        return "output weights must not be empty"
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, Real):
            return f"output weights must be numbers, got {w!r}"
        if not math.isfinite(w) or w < 0:
            return f"output weights must be finite and >= 0, got {w!r}"
    if not math.fsum(weights) > 0:
        return "output weights must not all be zero"
    return None


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _numbers_problem(value: object) -> str | None:
    """Say what is wrong with a strictly increasing sequence of numbers, or None."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return ""
    numbers = tuple(value)
    if not numbers:
        return "must not be empty"
    for x in numbers:
        if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(x):
            return f"must be finite numbers, got {x!r}"
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        return f"must be strictly increasing, got {list(numbers)}"
    return None


def _thetas_problem(value: object) -> str | None:
    """Say what is wrong with a ``thetas`` value (None: nothing)."""
    if value is None or _is_count(value, 2):
        return None
    if isinstance(value, int):
        return ""
    return _numbers_problem(value)


def _bins_problem(value: object) -> str | None:
    """Say what is wrong with a ``bins`` value (None: nothing)."""
    if value is None or _is_count(value, 1):
        return None
    if isinstance(value, int):
        return ""
    return _numbers_problem(value)


def _multioutput_problem(value: object) -> str | None:
    """Say what is wrong with a ``multioutput`` value (None: nothing)."""
    if isinstance(value, str):
        return None if value in MULTIOUTPUT_MODES else ""
    if not isinstance(value, Iterable):
        return ""
    return _output_weights_problem(value)


def _loss_problem(value: object) -> str | None:
    """Say what is wrong with a ``loss`` value (None: nothing; "": the usual)."""
    if isinstance(value, str):
        return None if value in LOSSES else ""
    if not isinstance(value, Iterable) or isinstance(value, bytes):
        return ""
    names = tuple(value)
    if not names:
        return "must name at least one loss, got an empty sequence"
    for name in names:
        if not isinstance(name, str) or name not in LOSSES:
            return f"must be {_LOSS_WORDS}, got {name!r} in {list(names)}"
    if len(set(names)) != len(names):
        return f"names a loss more than once: {list(names)}"
    return None


_LOSS_WORDS = " or ".join(map(repr, LOSSES)) + ", or a sequence of them"


def _is_delta(value: object) -> bool:
    return value is None or (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


#: The rule of every option, by name.
RULES: dict[str, Rule] = {
    "nan_policy": Rule(
        lambda value: isinstance(value, str) and value in NAN_POLICIES,
        " or ".join(map(repr, NAN_POLICIES)),
    ),
    "confidence": Rule(_is_level, "a number strictly between 0 and 1"),
    "top_share": Rule(_is_bool, "True or False"),
    "overall": Rule(_is_bool, "True or False"),
    # 'no' is truthy: a string must not pass for True.
    "allow_new_models": Rule(_is_bool, "True or False"),
    "max_segments": Rule(
        lambda value: (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ),
        "a positive integer",
    ),
    "min_n": Rule(
        lambda value: (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ),
        "a non-negative integer",
    ),
    "adjust": Rule(
        lambda value: value is None or (isinstance(value, str) and value in ADJUST),
        " or ".join(map(repr, ADJUST)) + " or None",
    ),
    "loss": Rule(
        lambda value: _loss_problem(value) is None,
        _LOSS_WORDS,
        lambda value: _loss_problem(value) or None,
    ),
    "huber_delta": Rule(_is_delta, "a finite positive number or None"),
    "variance": Rule(
        lambda value: isinstance(value, str) and value in VARIANCES,
        " or ".join(map(repr, VARIANCES)),
    ),
    "weighted": Rule(
        lambda value: value is None or isinstance(value, bool), "True, False or None"
    ),
    "width": Rule(
        lambda value: (
            value is None
            or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        ),
        "a positive integer (the number of outputs) or None",
    ),
    "functional": Rule(
        lambda value: isinstance(value, str) and value in FUNCTIONALS,
        " or ".join(map(repr, FUNCTIONALS)),
    ),
    "murphy": Rule(
        lambda value: (
            value is None or (isinstance(value, str) and value in FUNCTIONALS)
        ),
        " or ".join(map(repr, FUNCTIONALS)) + " or None",
    ),
    "score_loss": Rule(
        lambda value: isinstance(value, str) and value in SCORE_LOSSES,
        " or ".join(map(repr, SCORE_LOSSES)),
        named="loss",
    ),
    "thetas": Rule(
        lambda value: _thetas_problem(value) is None,
        "None, a number of points (at least 2) or a strictly increasing "
        "sequence of finite numbers",
        lambda value: _thetas_problem(value) or None,
    ),
    "bins": Rule(
        lambda value: _bins_problem(value) is None,
        "None, a number of bins (at least 1) or a strictly increasing "
        "sequence of finite bin edges",
        lambda value: _bins_problem(value) or None,
    ),
    "k": Rule(lambda value: _is_count(value, 1), "a positive integer"),
    "multioutput": Rule(
        lambda value: _multioutput_problem(value) is None,
        f"one of {MULTIOUTPUT_MODES} or a sequence of output weights",
        # "" (not a name nor a sequence) says the accepted values instead.
        lambda value: _multioutput_problem(value) or None,
    ),
}


def check(function: str | None = None, **options: object) -> None:
    """Raise :class:`L2InputError` unless every option is accepted.

    Parameters
    ----------
    function
        The public function's name, for the message (None for none).
    **options
        The options, by name; each must have a rule in :data:`RULES`.

    Raises
    ------
    L2InputError
        Naming the option, the values it accepts and the value given.

    Examples
    --------
    >>> from polars_l2._core import options
    >>> options.check("polars_l2.report", nan_policy="omit", top_share=True)
    >>> options.check("report", top_share="no")
    Traceback (most recent call last):
    ...
    polars_l2.exceptions.L2InputError: report: top_share must be True or False, got 'no'
    """
    prefix = f"{function}: " if function else ""
    for name, value in options.items():
        rule = RULES[name]
        if not rule.accepts(value):
            problem = rule.detail(value) or f"must be {rule.accepted}, got {value!r}"
            raise L2InputError(f"{prefix}{rule.named or name} {problem}")
