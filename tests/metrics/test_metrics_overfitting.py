"""Overfitting statistics: hand computations, the papers' examples, a slow CSCV twin, known
answers on planted markets, and properties."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_backtester import metrics
from portfolio_backtester.errors import DataError
from portfolio_backtester.metrics.overfitting import (
    deflated_sharpe_ratio,
    effective_number_of_trials,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    spa_test,
)

FloatArray = npt.NDArray[np.float64]
PHI = NormalDist()
GAMMA = 0.5772156649015329


# --- Probabilistic Sharpe ratio, expected maximum, track-record and backtest lengths ----


def test_psr_by_hand_with_raw_kurtosis() -> None:
    # SR 0.1 vs 0.05 per day over 101 days, skew -1, raw kurtosis 6:
    # spread = sqrt(1 + 0.1 + (6 - 1) / 4 * 0.01) = sqrt(1.1125); z = 0.05 * 10 / spread.
    z = 0.05 * 10 / math.sqrt(1.1125)
    assert z == pytest.approx(0.474045, abs=1e-6)
    assert probabilistic_sharpe_ratio(0.1, 0.05, 101, -1.0, 6.0) == pytest.approx(PHI.cdf(z))
    assert probabilistic_sharpe_ratio(0.1, 0.05, 101, -1.0, 6.0) == pytest.approx(
        0.68227, abs=1e-5
    )


def test_psr_of_normal_returns_uses_the_one_half_sr_squared_term() -> None:
    # Raw kurtosis 3: (3 - 1) / 4 = 1/2, the i.i.d. normal variance 1 + SR^2 / 2 (Lo 2002).
    expected = PHI.cdf(0.2 * math.sqrt(251) / math.sqrt(1 + 0.5 * 0.2**2))
    assert probabilistic_sharpe_ratio(0.2, 0.0, 252, 0.0, 3.0) == pytest.approx(expected)
    assert probabilistic_sharpe_ratio(0.2, 0.2, 252, 0.0, 3.0) == 0.5


def test_psr_refuses_an_excess_kurtosis_that_no_distribution_has_as_raw() -> None:
    with pytest.raises(DataError, match="RAW kurtosis"):
        probabilistic_sharpe_ratio(0.1, 0.0, 252, 0.0, 0.0)  # excess kurtosis of a normal
    with pytest.raises(DataError, match="1 \\+ skew"):
        minimum_track_record_length(0.1, 0.0, -2.0, 4.0)  # 4 < 1 + (-2)^2


def test_expected_max_sharpe_of_one_trial_is_zero_and_of_two_is_the_euler_term() -> None:
    assert expected_max_sharpe(1, 0.25) == 0.0
    # N = 2: Phi^-1(1 - 1/2) = 0 leaves gamma * Phi^-1(1 - 1/(2e)) * sqrt(V).
    expected = 0.5 * GAMMA * PHI.inv_cdf(1 - 1 / (2 * math.e))
    assert expected_max_sharpe(2, 0.25) == pytest.approx(expected)
    assert expected_max_sharpe(100, 0.04) == pytest.approx(0.2 * expected_max_sharpe(100, 1.0))


def test_expected_max_sharpe_is_continuous_and_non_decreasing_in_the_trials() -> None:
    # The raw approximation is -inf at N = 1 and negative up to N ~ 1.28; clamped at 0.
    grid = np.concatenate([np.linspace(1.0, 3.0, 201), np.geomspace(3.0, 1e6, 200)])
    values = np.array([expected_max_sharpe(float(n), 1.0) for n in grid])
    assert values[0] == 0.0
    assert np.all(np.diff(values) >= 0.0)
    assert np.max(np.diff(values[:201])) < 0.05


@pytest.mark.parametrize(("n", "tolerance"), [(10, 0.03), (100, 0.01), (1000, 0.005)])
def test_expected_max_sharpe_approximates_the_exact_expected_maximum(
    n: int, tolerance: float
) -> None:
    def density(x: float) -> float:
        return x * n * PHI.pdf(x) * PHI.cdf(x) ** (n - 1)

    exact, _ = scipy.integrate.quad(density, -10, 10, limit=200)
    assert expected_max_sharpe(n, 1.0) == pytest.approx(exact, rel=tolerance)


def test_minimum_backtest_length_is_five_years_for_45_trials_at_sharpe_one() -> None:
    # Bailey, Borwein, Lopez de Prado & Zhu (2014), Notices of the AMS 61(5): "if only 5
    # years of data are available, no more than 45 independent model configurations
    # should be tried" to keep a best in-sample Sharpe ratio of 1 from being luck.
    assert minimum_backtest_length(45, 1.0) == pytest.approx(5.0, abs=0.01)
    assert minimum_backtest_length(45, 2.0) == pytest.approx(5.0 / 4, abs=0.01)
    assert minimum_backtest_length(1, 1.0) == 0.0
    assert minimum_backtest_length(45, 1.0) < 2 * math.log(45)  # the paper's upper bound


def test_minimum_track_record_length_by_hand_and_against_psr() -> None:
    # 1 + (1 + 1/2 * 0.1^2) * (Phi^-1(0.95) / 0.1)^2
    expected = 1 + 1.005 * (PHI.inv_cdf(0.95) / 0.1) ** 2
    assert expected == pytest.approx(272.9, abs=0.05)
    assert minimum_track_record_length(0.1, 0.0, 0.0, 3.0) == pytest.approx(expected)
    # At a track record of exactly MinTRL observations the PSR is 1 - alpha.
    length = minimum_track_record_length(0.08, 0.02, -0.5, 7.0, alpha=0.1)
    z = 0.06 * math.sqrt(length - 1) / math.sqrt(1 + 0.5 * 0.08 + 1.5 * 0.08**2)
    assert PHI.cdf(z) == pytest.approx(0.9)
    assert minimum_track_record_length(0.05, 0.05, 0.0, 3.0) == math.inf


# --- Deflated Sharpe ratio ------------------------------------------------------------


def test_dsr_reproduces_the_numerical_example_of_bailey_and_lopez_de_prado_2014() -> None:
    # "The Deflated Sharpe Ratio", J. Portfolio Management 40(5), numerical example: best
    # of N = 100 trials with annualised SR 2.5 over T = 1,250 daily observations (5 years
    # of 250 days), skew -3, raw kurtosis 10, variance of the annualised trial Sharpe
    # ratios 1/2. The paper gives E[max SR] = 0.1132 per day and DSR = 0.9004.
    days = 250
    benchmark = expected_max_sharpe(100, 0.5 / days)
    assert benchmark == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(days), benchmark, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    # The excess kurtosis (7), which vectorbt feeds, is below 1 + skew² = 10, the least
    # raw kurtosis any distribution has: refused rather than overstating the DSR.
    with pytest.raises(DataError, match="RAW kurtosis"):
        probabilistic_sharpe_ratio(2.5 / math.sqrt(days), benchmark, 1250, -3.0, 7.0)


def test_dsr_result_is_made_of_the_component_formulas() -> None:
    rng = np.random.default_rng(7)
    best = pd.Series(rng.standard_t(5, 1500) * 0.01 + 0.001)
    best.iloc[[3, 30]] = np.nan
    sharpes = np.append(rng.normal(0.0, 0.6, 99), metrics.sharpe_ratio(best))
    result = deflated_sharpe_ratio(best, sharpes)
    kept = best.dropna().to_numpy()
    sr = kept.mean() / kept.std(ddof=1)
    skew = scipy.stats.skew(kept, bias=True)
    kurt = scipy.stats.kurtosis(kept, fisher=False, bias=True)  # raw
    variance = np.var(sharpes / math.sqrt(252), ddof=1)
    assert result.n_obs == 1498 and result.n_trials == 100 and result.n_effective_trials == 100
    assert result.sharpe == pytest.approx(sr, rel=1e-12)
    assert result.sharpe_annual == pytest.approx(metrics.sharpe_ratio(best), rel=1e-12)
    assert result.skew == pytest.approx(skew, rel=1e-10)
    assert result.kurtosis == pytest.approx(kurt, rel=1e-10)
    assert result.kurtosis > 3.5  # raw, fat-tailed (Student t with 5 degrees of freedom)
    assert result.variance_of_sharpes == pytest.approx(variance, rel=1e-12)
    assert result.expected_max_sharpe == pytest.approx(expected_max_sharpe(100, variance))
    assert result.psr == pytest.approx(probabilistic_sharpe_ratio(sr, 0.0, 1498, skew, kurt))
    assert result.dsr == pytest.approx(
        probabilistic_sharpe_ratio(sr, result.expected_max_sharpe, 1498, skew, kurt)
    )
    assert result.dsr < result.psr


_BEST = np.random.default_rng(11).normal(0.0008, 0.01, 1000)
_SHARPES = np.random.default_rng(12).normal(0.0, 0.5, 1000)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1.0, max_value=1000.0), st.floats(min_value=1.0, max_value=1000.0))
def test_dsr_does_not_rise_with_the_number_of_trials(first: float, second: float) -> None:
    fewer, more = sorted((first, second))
    low = deflated_sharpe_ratio(_BEST, _SHARPES, fewer)
    high = deflated_sharpe_ratio(_BEST, _SHARPES, more)
    assert high.expected_max_sharpe >= low.expected_max_sharpe
    assert high.dsr <= low.dsr
    assert high.psr == low.psr


def test_dsr_falls_strictly_with_more_trials_of_the_same_spread() -> None:
    dsrs = [deflated_sharpe_ratio(_BEST, _SHARPES, n).dsr for n in (2, 10, 100, 1000)]
    assert dsrs == sorted(dsrs, reverse=True) and len(set(dsrs)) == 4


# --- Effective number of trials -------------------------------------------------------


def _equicorrelated(rho: float, n_obs: int, n_trials: int, seed: int) -> FloatArray:
    """Columns whose sample correlations are all exactly rho (orthonormal factors)."""
    rng = np.random.default_rng(seed)
    # Orthonormal columns orthogonal to the constant: centred, unit norm, uncorrelated.
    basis, _ = np.linalg.qr(
        np.column_stack([np.ones(n_obs), rng.standard_normal((n_obs, n_trials + 1))])
    )
    common, own = basis[:, 1], basis[:, 2:]
    return 0.01 * (math.sqrt(rho) * common[:, None] + math.sqrt(1 - rho) * own) + 0.001


def test_effective_trials_at_the_ends_and_for_a_known_correlation() -> None:
    independent = _equicorrelated(0.0, 500, 40, 1)
    assert effective_number_of_trials(independent) == pytest.approx(40.0, abs=1e-9)
    same = np.repeat(independent[:, :1], 25, axis=1)
    assert effective_number_of_trials(same) == pytest.approx(1.0, abs=1e-9)
    correlated = _equicorrelated(0.3, 500, 40, 2)
    assert effective_number_of_trials(correlated) == pytest.approx(0.3 + 0.7 * 40, abs=1e-9)


def test_effective_trials_match_the_full_correlation_matrix() -> None:
    rng = np.random.default_rng(3)
    factor = rng.standard_normal((800, 1))
    returns = 0.01 * (0.5 * factor + rng.standard_normal((800, 60)) * rng.uniform(0.2, 2, 60))
    corr = np.corrcoef(returns, rowvar=False)
    rho = (corr.sum() - 60) / (60 * 59)
    assert rho > 0.05
    assert effective_number_of_trials(returns) == pytest.approx(rho + (1 - rho) * 60, rel=1e-10)


def test_effective_trials_treat_nan_as_zero_and_leave_constant_trials_out() -> None:
    rng = np.random.default_rng(4)
    returns = rng.normal(0.0, 0.01, (300, 10)) + rng.normal(0.0, 0.01, (300, 1))
    holed = returns.copy()
    holed[:20, 2] = np.nan
    zeroed = returns.copy()
    zeroed[:20, 2] = 0.0
    with_flat = np.column_stack([holed, np.full(300, 0.0004), np.full(300, np.nan)])
    before = with_flat.copy()
    assert effective_number_of_trials(with_flat) == pytest.approx(
        effective_number_of_trials(zeroed), rel=1e-12
    )
    np.testing.assert_array_equal(with_flat, before)  # the input is not modified


# --- CSCV: a slow, obviously correct twin ---------------------------------------------


def _slow_cscv(
    returns: FloatArray, n_blocks: int, metric: str = "sharpe_ratio"
) -> dict[str, object]:
    """Loop over every split; the metric of each half from its concatenated rows."""
    values = np.nan_to_num(returns, nan=0.0)
    n_trials = values.shape[1]
    blocks = np.array_split(np.arange(values.shape[0]), n_blocks)

    def perf(rows: FloatArray) -> FloatArray:
        if metric == "mean_return":
            return rows.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = rows.mean(axis=0) / rows.std(axis=0, ddof=1) * math.sqrt(252)
        out[np.ptp(rows, axis=0) == 0] = np.nan
        return out

    logits, selected, is_perf, oos_perf = [], [], [], []
    for combo in itertools.combinations(range(n_blocks), n_blocks // 2):
        inside = perf(values[np.concatenate([blocks[b] for b in combo])])
        rest = [b for b in range(n_blocks) if b not in combo]
        outside = perf(values[np.concatenate([blocks[b] for b in rest])])
        best = int(np.argmax(np.where(np.isnan(inside), -np.inf, inside)))
        rank = scipy.stats.rankdata(np.where(np.isnan(outside), -np.inf, outside))[best]
        omega = rank / (n_trials + 1)
        logits.append(math.log(omega / (1 - omega)))
        selected.append(best)
        is_perf.append(inside[best])
        oos_perf.append(outside[best])
    slope, intercept = np.polyfit(is_perf, oos_perf, 1)
    return {
        "pbo": float(np.mean(np.array(logits) <= 0)),
        "logits": np.array(logits),
        "selected": np.array(selected),
        "is": np.array(is_perf),
        "oos": np.array(oos_perf),
        "slope": slope,
        "intercept": intercept,
        "loss": float(np.mean(np.array(oos_perf) < 0)),
    }


def _market(n_obs: int, n_trials: int, seed: int) -> FloatArray:
    """Noise plus small drifts and a common factor, so that ranks move between splits."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0, 0.0004, n_trials)
    common = rng.normal(0.0, 0.01, (n_obs, 1))
    return drift + 0.5 * common + rng.normal(0.0, 0.01, (n_obs, n_trials))


@pytest.mark.parametrize("n_obs", [400, 403])
@pytest.mark.parametrize("metric", ["sharpe_ratio", "mean_return"])
def test_cscv_matches_a_loop_over_every_split(n_obs: int, metric: str) -> None:
    returns = _market(n_obs, 30, seed=n_obs)
    returns[:50, 4] = np.nan  # a trial that starts late: NaN is 0
    returns[:, 7] = 0.0  # a trial that never trades: no Sharpe ratio
    before = returns.copy()
    result = probability_of_backtest_overfitting(returns, n_blocks=8, metric=metric)
    slow = _slow_cscv(returns, 8, metric)
    np.testing.assert_array_equal(returns, before)
    assert result.logits.shape == (70,)
    np.testing.assert_array_equal(result.selected_trials, slow["selected"])
    np.testing.assert_array_equal(result.logits, slow["logits"])
    assert result.pbo == slow["pbo"]
    np.testing.assert_allclose(result.is_performance, slow["is"], rtol=1e-10)  # type: ignore[arg-type]
    np.testing.assert_allclose(result.oos_performance, slow["oos"], rtol=1e-10)  # type: ignore[arg-type]
    assert result.degradation_slope == pytest.approx(slow["slope"], rel=1e-9)
    assert result.degradation_intercept == pytest.approx(slow["intercept"], rel=1e-9, abs=1e-15)
    assert result.probability_of_loss == slow["loss"]
    assert 0.0 < result.pbo < 1.0  # the case is not degenerate


def test_cscv_with_a_callable_metric_matches_the_named_one() -> None:
    def sharpe(rows: FloatArray) -> FloatArray:
        return rows.mean(axis=0) / rows.std(axis=0, ddof=1) * math.sqrt(252)

    returns = _market(240, 12, seed=5)
    named = probability_of_backtest_overfitting(returns, n_blocks=6)
    called = probability_of_backtest_overfitting(returns, n_blocks=6, metric=sharpe)
    np.testing.assert_array_equal(called.logits, named.logits)
    framed = probability_of_backtest_overfitting(pd.DataFrame(returns), n_blocks=6)
    np.testing.assert_array_equal(framed.logits, named.logits)
    np.testing.assert_allclose(called.oos_performance, named.oos_performance, rtol=1e-10)


def test_cscv_ties_share_their_mean_rank() -> None:
    # Every trial identical: the selected one is at the median of N, omega = 1/2, logit 0,
    # which counts as overfit (no better than the median).
    same = np.repeat(_market(200, 1, seed=6), 5, axis=1)
    result = probability_of_backtest_overfitting(same, n_blocks=4)
    np.testing.assert_array_equal(result.logits, np.zeros(6))
    np.testing.assert_array_equal(result.selected_trials, np.zeros(6, dtype=np.intp))
    assert result.pbo == 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.permutations(range(12)))
def test_pbo_does_not_depend_on_the_order_of_the_trials(seed: int, order: list[int]) -> None:
    returns = _market(160, 12, seed)
    result = probability_of_backtest_overfitting(returns, n_blocks=8)
    shuffled = probability_of_backtest_overfitting(returns[:, order], n_blocks=8)
    assert shuffled.pbo == result.pbo
    np.testing.assert_array_equal(shuffled.logits, result.logits)
    np.testing.assert_array_equal(
        np.asarray(order)[shuffled.selected_trials], result.selected_trials
    )


def test_cscv_refuses_odd_blocks_short_data_and_unknown_metrics() -> None:
    returns = _market(100, 5, seed=8)
    with pytest.raises(DataError, match="even"):
        probability_of_backtest_overfitting(returns, n_blocks=7)
    with pytest.raises(DataError, match="at least 2 days"):
        probability_of_backtest_overfitting(returns[:20], n_blocks=16)
    with pytest.raises(DataError, match="did you mean 'sharpe_ratio'"):
        probability_of_backtest_overfitting(returns, n_blocks=4, metric="sharpe_ration")
    with pytest.raises(DataError, match="infinite"):
        probability_of_backtest_overfitting(np.where(returns > 0.02, np.inf, returns), 4)


# --- Known answers: a market of pure noise and one with a planted edge ------------------


_NOISE = np.random.default_rng(2024).normal(0.0, 0.01, (2000, 200))
_EDGE = _NOISE.copy()
_EDGE[:, 17] += 0.0015  # daily Sharpe 0.15 (2.4 a year) in every block
_EDGE[:, 120:125] += 0.0012 + _NOISE[:, 17:18] * 0.5  # a family that shares some of it


def _best_dsr(returns: FloatArray) -> tuple[int, float]:
    sharpes = np.array([metrics.sharpe_ratio(returns[:, j]) for j in range(returns.shape[1])])
    best = int(np.argmax(sharpes))
    n_eff = effective_number_of_trials(returns)
    return best, deflated_sharpe_ratio(returns[:, best], sharpes, n_eff).dsr


def test_noise_overfits_and_its_best_sharpe_is_not_significant() -> None:
    result = probability_of_backtest_overfitting(_NOISE)
    assert result.logits.shape == (12870,)
    assert result.pbo >= 0.3
    assert result.degradation_slope < 0.1
    assert 0.3 < result.probability_of_loss < 0.7
    _, dsr = _best_dsr(_NOISE)
    assert dsr < 0.95


def test_a_planted_edge_does_not_overfit_and_is_significant() -> None:
    result = probability_of_backtest_overfitting(_EDGE)
    assert result.pbo <= 0.1
    assert result.probability_of_loss <= 0.05
    best, dsr = _best_dsr(_EDGE)
    assert best == 17
    assert dsr > 0.95


# --- SPA and the Reality Check ---------------------------------------------------------


_SPA_NOISE = np.random.default_rng(99).normal(0.0, 0.01, (1000, 40))
_SPA_BENCHMARK = np.random.default_rng(100).normal(0.0, 0.01, 1000)


def test_spa_does_not_reject_on_noise() -> None:
    result = spa_test(_SPA_NOISE, _SPA_BENCHMARK, seed=1)
    assert result.pvalue_consistent > 0.05
    assert result.pvalue_upper > 0.05  # White's Reality Check
    assert result.pvalue_lower <= result.pvalue_consistent <= result.pvalue_upper
    assert result.reps == 1000 and result.block_size == 31  # floor(sqrt(1000))


def test_spa_rejects_with_one_strong_edge_and_finds_it() -> None:
    edged = _SPA_NOISE.copy()
    edged[:, 23] += 0.002  # t-statistic about 4.5 over the benchmark
    before = edged.copy()
    result = spa_test(edged, _SPA_BENCHMARK, seed=1)
    np.testing.assert_array_equal(edged, before)
    assert result.pvalue_consistent < 0.05
    assert result.pvalue_upper < 0.05
    assert result.best_trial == 23


def test_spa_is_reproducible_with_the_same_seed() -> None:
    frame = pd.DataFrame(_SPA_NOISE[:300, :10])
    benchmark = pd.Series(_SPA_BENCHMARK[:300])
    first = spa_test(frame, benchmark, reps=200, seed=5, block_size=10)
    again = spa_test(frame, benchmark, reps=200, seed=5, block_size=10)
    assert first == again
    with pytest.raises(DataError, match="align them first"):
        spa_test(frame, benchmark.set_axis(benchmark.index + 1), reps=10)
    with pytest.raises(DataError, match="shape"):
        spa_test(frame, benchmark.to_numpy()[:-1], reps=10)


def test_new_names_are_exported_from_metrics() -> None:
    for name in (
        "deflated_sharpe_ratio",
        "effective_number_of_trials",
        "expected_max_sharpe",
        "minimum_backtest_length",
        "minimum_track_record_length",
        "probabilistic_sharpe_ratio",
        "probability_of_backtest_overfitting",
        "spa_test",
    ):
        assert name in metrics.__all__ and callable(getattr(metrics, name))
