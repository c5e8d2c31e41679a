r"""The losses of the paired test: squared, absolute and Huber, defined once.

:func:`polars_l2.compare` tests the per-row differences of a loss,
:math:`d_i = L(e_{c,i}) - L(e_{b,i})`, and :func:`polars_l2.state` keeps
their paired moments for the losses asked for. Each loss is a function of
the error :math:`e = \hat y - y` alone:

- ``"squared"``: :math:`e^2` (the MSE's loss; the default);
- ``"absolute"``: :math:`|e|` (the MAE's loss);
- ``"huber"``: :math:`e^2/2` where :math:`|e| \le \delta`, else
  :math:`\delta(|e| - \delta/2)` (``scipy.special.huber``,
  ``torch.nn.HuberLoss``): squared for small errors, linear beyond
  :math:`\delta`, in the target's units.

:class:`Losses` holds the losses asked for, in order, with the Huber
:math:`\delta`; :func:`parse` checks the user's ``loss`` and
``huber_delta`` once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import polars as pl

from polars_l2._core import options
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from polars_l2.typing import Loss

#: The losses, in the order of their state columns.
NAMES: Final = options.LOSSES

#: Each loss's stem in the state's paired columns: ``paired_<stem>_mean``,
#: ``paired_baseline_<stem>_mean`` and ``<stem>_diff_mean`` (and its
#: centred moments).
STEMS: Final = {"squared": "sq_error", "absolute": "abs_error", "huber": "huber"}


@dataclass(frozen=True)
class Losses:
    """The losses of a paired test, in the order asked, and Huber's delta."""

    names: tuple[str, ...] = ("squared",)
    #: Huber's :math:`\delta` (only with ``"huber"`` among `names`).
    huber_delta: float | None = None

    def of(self, name: str, error: pl.Expr) -> pl.Expr:
        """Return loss `name` of a Float64 `error` (null stays null)."""
        if name == "squared":
            return error.pow(2)
        size = error.abs()
        if name == "absolute":
            return size
        delta = self.huber_delta
        assert delta is not None  # parse() requires it with "huber"
        return (
            pl.when(size <= delta)
            .then(0.5 * error.pow(2))
            .otherwise(delta * (size - 0.5 * delta))
        )

    @property
    def label(self) -> str:
        """The losses as the state's ``paired_losses`` column records them."""
        return ",".join(self.names)


#: The default: the squared error alone.
SQUARED: Final = Losses()


def from_label(label: str, huber_delta: float | None) -> Losses:
    """Return the losses a state's ``paired_losses`` and ``huber_delta`` record."""
    return Losses(tuple(label.split(",")), huber_delta)


def parse(loss: Loss | Iterable[Loss], huber_delta: object, *, function: str) -> Losses:
    """Return the user's `loss` and `huber_delta`, checked.

    Raises
    ------
    L2InputError
        For an unknown loss, one named twice, an empty sequence, a `huber_delta`
        that is not a finite positive number, ``"huber"`` without it, or it
        without ``"huber"``.
    """
    options.check(function, loss=loss, huber_delta=huber_delta)
    names = (loss,) if isinstance(loss, str) else tuple(loss)
    if "huber" in names and huber_delta is None:
        msg = (
            f"{function}: loss 'huber' needs huber_delta=, the error (in the "
            "target's units) at which the loss turns from squared to linear"
        )
        raise L2InputError(msg)
    if "huber" not in names and huber_delta is not None:
        msg = (
            f"{function}: huber_delta={huber_delta!r} is given, but loss "
            f"{list(names)} has no 'huber'"
        )
        raise L2InputError(msg)
    delta = None if huber_delta is None else float(huber_delta)  # type: ignore[arg-type]
    return Losses(tuple(str(name) for name in names), delta)
