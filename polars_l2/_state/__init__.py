r"""Mergeable metric states: build, merge and finalise the evaluation report.

MSE, RMSE, MAE, bias and R² are decomposable. :func:`state` reduces a frame
(a batch, a file, a partition, a day) to one small row per model and segment:
counts, weight sums, and means with centred second moments, never raw sums of
squares. :func:`merge_states` combines any number of states, in any order,
with Chan et al.'s numerically stable pairwise formulas, and :func:`finalize`
turns a state into the columns of :func:`polars_l2.report`.

The state has one fixed, versioned Arrow schema (:func:`state_schema`), so it
can be written to parquet, read back by a later version, and exchanged with
Ray or Spark:

========================  ==========  =============================================
column                    Arrow type  meaning (over the counted rows)
========================  ==========  =============================================
``state_version``         int64       :data:`STATE_VERSION` of the writer
``actual``                string      name of the actual column (null: not recorded)
``model``                 string      name of the predicted column
*by columns*              own type    the segment's keys, in their own dtypes
``weight``                string      name of the weight column (null: unweighted,
                                      or not recorded)
``weighted``              bool        whether the state was built with weights
``nan_policy``            string      ``"propagate"`` or ``"omit"`` (null: not recorded)
``n``                     int64       rows counted (actual, prediction, weight present,
                                      weight not zero)
``negative_weight_count`` int64       counted rows with a negative weight
``weight_sum``            double      :math:`W = \sum w` (``n`` unweighted)
``weight_sq_ratio``       double      :math:`\sum w^2 / W`, the weights' own weighted
                                      mean (1 unweighted; null where :math:`W` is 0):
                                      Kish's effective size is :math:`W` over it
``error_mean``            double      weighted mean of :math:`e = \hat y - y` (the bias)
``error_m2``              double      :math:`\sum w (e - \bar e)^2`
``sq_error_mean``         double      weighted mean of :math:`e^2` (the MSE)
``sq_error_m2``           double      :math:`\sum w (e^2 - \overline{e^2})^2`
``actual_mean``           double      weighted mean of :math:`y`
``actual_m2``             double      :math:`\sum w (y - \bar y)^2`
``actual_min``            double      :math:`\min y` (null without rows)
``actual_max``            double      :math:`\max y` (null without rows)
``abs_error_sum``         double      :math:`\sum w |e|`
``abs_error_m2``          double      :math:`\sum w (|e| - \overline{|e|})^2`
``abs_error_max``         double      :math:`\max |e|` (null without rows)
``error_w2m2``            double      :math:`\sum w^2 (e - \bar e)^2 / W^2`, the
                                      sandwich (HC0) variance of the bias
``error_w2m1``            double      :math:`\sum w^2 (e - \bar e) / W^2` (for merging)
``sq_error_w2m2``, ...    double      the same of :math:`e^2` and :math:`|e|`
                                      (``sq_error_w2m1``, ``abs_error_w2m2``,
                                      ``abs_error_w2m1``)
``baseline``              string      the baseline named when built (null: none)
``paired_losses``         string      the losses whose paired moments are kept,
                                      comma-separated (``squared,absolute``)
``huber_delta``           double      Huber's delta (null without ``huber``)
``paired_n``              int64       paired rows: actual, this model's and the
                                      baseline's predictions and weight present
                                      (null without a baseline and on its rows)
``paired_*``              ...         count of negative weights, :math:`W`,
                                      :math:`\sum w^2 / W`
``paired_<L>_mean``       double      per loss L kept (``sq_error``, ``abs_error``,
                                      ``huber``): the model's mean loss over the
                                      paired rows (null: loss not kept)
``paired_baseline_<L>_``  double      the baseline's (``..._mean``)
``<L>_diff_mean``         double      weighted mean of :math:`d = L(e) - L(e_b)`
``<L>_diff_m2``           double      :math:`\sum w (d - \bar d)^2`
``<L>_diff_w2m2``, ...    double      its sandwich moments, as for ``error``
``sq_error_histogram``    list        the squared errors' power-of-two histogram:
                                      per bin its weight, sum, minimum, maximum
                                      (null if built with ``top_share=False``)
``murphy_functional``     string      ``"mean"`` or ``"median"`` (null: built
                                      without ``murphy=``)
``murphy_theta``          list        the θ grid of the Murphy diagram
``murphy_score``          list        per θ, the mean elementary score
``murphy_diff_mean``      list        per θ, the mean paired difference of
                                      elementary scores, this model minus the
                                      baseline (null without a baseline)
``murphy_diff_m2``        list        per θ, its centred second moment
========================  ==========  =============================================

The histogram's bins are fixed (the sign and exponent bits of the squared
error), so histograms merge by adding bin by bin; ``finalize`` walks the
merged histogram and gives the ``top_1pct_share`` of all the data, as the
report does. The paired moments are what :func:`polars_l2.compare` needs;
they are kept only for the pairs of each model with the ``baseline=`` named
when the state is built, and only for the losses named (``loss=``), so a
state grows linearly with the models. The sandwich moments merge with the
weights' sums of squares (:math:`S = \sum_k (W_k/W)^2 (S_k + 2\delta_k T_k +
\delta_k^2 P_k)`, with :math:`\delta_k` the part's mean minus the merged
one, :math:`T_k` its ``w2m1`` and :math:`P_k = \sum_k w^2 / W_k^2`), free of
the weights' scale.

The error is predicted minus actual, :math:`e = \hat y - y`, as in the
report's ``bias``: a positive ``error_mean`` means the model over-predicts.
A row of weight zero is not counted at all (not in ``n``, nor in
``abs_error_max``), whatever its error. Means are null where the weight sum
is zero (no rows); merging such a part changes nothing. ``actual_min`` and
``actual_max`` decide exactly whether the target is constant (then R² is
1.0 for a perfect fit and 0.0 otherwise), which its computed variance cannot
(the variance of ``[0.1] * 7`` is 1.9e-34).

**Keys** keep their dtype, so :func:`finalize` gives keys in the dtype
:func:`polars_l2.report` gives, which join back to the data: integers,
floats, Decimal, Boolean, String, Date, Time, Datetime and Duration keys are
stored as they are (``Datetime`` with its unit and time zone). Two
exceptions: Categorical and Enum keys are stored as String (their categories
are no part of a fixed schema, and states built from different category
sets must merge), and a float ``-0.0`` is stored as ``0.0``. Equal keys are
one segment (``-0.0`` and ``0.0``; every NaN is one key, sorted after the
numbers and before null), distinct keys never are. :func:`merge_states`
merges states whose key dtypes differ in a common dtype: numbers in Polars'
supertype (Int32 and Int64 in Int64, Int64 and Float64 in Float64),
Datetime and Duration in the finest unit that holds every value (else the
coarsest), Null with anything; it refuses, naming the key, keys of different
kinds (String and Int64, Date and Datetime, Datetime in two time zones) and
any cast that would change a key (an integer beyond 2**53 as a Float64, a
nanosecond Datetime as microseconds).

**What was measured.** ``actual``, ``weight``, ``nan_policy``, the models
and the keys say what a state measured; :func:`merge_states` refuses states
that differ in any of them, naming the difference (models may differ only
with ``allow_new_models=True``). Every state read is checked: its columns'
dtypes, both version markers (the ``state_version`` column and the metadata
``polars_l2.state_version`` of a parquet file or Arrow table) and that its
values are possible (counts not null nor negative, weight sums of an
unweighted state equal to ``n``, second moments not negative where no weight
is, ``actual_min`` at most ``actual_max``...).

States of versions 1 to 4 lack columns version 5 needs (the Murphy
columns, the sandwich moments and the paired losses; before version 4 also
``abs_error_m2``, the paired moments, the histogram; versions 1 and 2 also
what was measured): they are refused, with a message naming the version and
the missing columns. Rebuild them from the data. Reading them with those
columns null would not do: a merge adds what is present, so a missing part
would silently vanish from the sums.

The moments come from Polars' stable ``var`` and ``cov`` (weighted:
:math:`\sum w (v - \bar v_w)^2 = n[\mathrm{cov}(wv, v) - \bar v_w
\mathrm{cov}(w, v)]` over the rows of non-zero weight), never from raw sums
of squares, with one exception that no metric uses: a weighted state's
``error_m2`` is :math:`W(\overline{e^2} - \bar e^2)`, which loses digits
where the bias dwarfs the spread of the errors. ``sq_error_mean`` is the MSE
itself, the (weighted) mean of :math:`e^2`, never :math:`\bar e^2` plus a
variance: an infinite error gives an infinite MSE, as in
:func:`polars_l2.mse`, not NaN.

Combining states by hand (in SQL...) is allowed: sum the counts,
weight sums and ``abs_error_sum``, take the minimum of ``actual_min`` and the
maximum of ``actual_max`` and ``abs_error_max``, and merge each (mean,
second moment) pair with the weight ``weight_sum``:
:math:`\bar m = \sum_i W_i m_i / W` and
:math:`M_2 = \sum_i M_{2,i} + \sum_i W_i (m_i - \bar m)^2`.
"""

from __future__ import annotations

from polars_l2._state.build import state, state_query
from polars_l2._state.checks import StateSource, is_state, load, state_keys
from polars_l2._state.finalizing import finalize
from polars_l2._state.merging import Measured, agree, measured, merge, merge_states
from polars_l2._state.schema import (
    METADATA_KEY,
    METADATA_KEY_BYTES,
    RESERVED,
    STATE_VERSION,
    state_schema,
)

__all__ = [
    "METADATA_KEY",
    "METADATA_KEY_BYTES",
    "RESERVED",
    "STATE_VERSION",
    "Measured",
    "StateSource",
    "agree",
    "finalize",
    "is_state",
    "load",
    "measured",
    "merge",
    "merge_states",
    "state",
    "state_keys",
    "state_query",
    "state_schema",
]
