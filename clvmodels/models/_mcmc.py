"""MCMC building blocks: a vectorised slice sampler and the convergence diagnostics.

No model's maths here. :func:`slice_sample` updates many independent
one-dimensional targets at once (one per customer), as the Gibbs sweeps of the
hierarchical models need; :func:`rhat` and :func:`ess` are the rank-normalised
split-R-hat and the bulk/tail effective sample sizes of Vehtari, Gelman,
Simpson, Carpenter & Buerkner (2021), "Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC", Bayesian
Analysis 16(2) (the definitions ArviZ and Stan use), written with numpy only
so that the package needs no extra dependency to report them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ["ess", "ess_bulk", "ess_tail", "rhat", "slice_sample"]


def slice_sample(
    log_density: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x0: np.ndarray,
    f0: np.ndarray,
    rng: np.random.Generator,
    *,
    width: float | np.ndarray = 1.0,
    max_steps: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """One slice-sampling update of each of ``n`` independent univariate targets.

    Neal (2003), "Slice sampling", Annals of Statistics 31(3): the stepping-out
    procedure (Fig. 3, with the ``m`` steps split at random between the two
    sides, which keeps the update reversible) and the shrinkage procedure
    (Fig. 5), run for all targets together: each round evaluates the density
    only at the targets still stepping out or still shrinking.

    Parameters
    ----------
    log_density : callable
        ``log_density(values, idx)``: the log-densities (up to a constant) of
        targets ``idx`` at ``values`` (both 1-d of the same length); NaN is
        read as ``-inf``.
    x0, f0 : ndarray of shape (n,)
        Current points and their log-densities (finite).
    rng : numpy.random.Generator
    width : float or ndarray of shape (n,)
        Initial slice width ``w`` (one per target, or one for all).
    max_steps : int
        Maximum number of width steps ``m`` in the stepping-out.

    Returns
    -------
    x1, f1 : ndarray of shape (n,)
        New points and their log-densities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = lambda v, idx: -0.5 * v ** 2
    >>> x = np.zeros(4000); fx = f(x, None)
    >>> for _ in range(20):
    ...     x, fx = slice_sample(f, x, fx, rng)
    >>> bool(abs(x.std() - 1) < 0.05)
    True
    """

    def logf(values, idx):
        out = np.asarray(log_density(values, idx), dtype=float)
        return np.where(np.isnan(out), -np.inf, out)

    n = x0.shape[0]
    width = np.broadcast_to(np.asarray(width, dtype=float), (n,))
    level = f0 - rng.standard_exponential(n)
    left = x0 - width * rng.random(n)
    right = left + width
    j_steps = np.floor(max_steps * rng.random(n)).astype(int)
    k_steps = max_steps - 1 - j_steps
    idx = np.flatnonzero(j_steps > 0)
    while idx.size:
        inside = logf(left[idx], idx) > level[idx]
        idx = idx[inside]
        left[idx] -= width[idx]
        j_steps[idx] -= 1
        idx = idx[j_steps[idx] > 0]
    idx = np.flatnonzero(k_steps > 0)
    while idx.size:
        inside = logf(right[idx], idx) > level[idx]
        idx = idx[inside]
        right[idx] += width[idx]
        k_steps[idx] -= 1
        idx = idx[k_steps[idx] > 0]
    x1 = x0.copy()
    f1 = f0.copy()
    idx = np.arange(n)
    for _ in range(200):  # each failed proposal shrinks the interval: 200 rounds is plenty
        prop = left[idx] + rng.random(idx.size) * (right[idx] - left[idx])
        fp = logf(prop, idx)
        ok = fp > level[idx]
        x1[idx[ok]] = prop[ok]
        f1[idx[ok]] = fp[ok]
        bad = idx[~ok]
        prop = prop[~ok]
        lower = prop < x0[bad]
        left[bad[lower]] = prop[lower]
        right[bad[~lower]] = prop[~lower]
        idx = bad
        if not idx.size:
            break
    # a target whose interval collapsed onto x0 (density not finite nearby) keeps x0
    return x1, f1


def _split_chains(draws: np.ndarray) -> np.ndarray:
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 1:
        draws = draws[None, :]
    n = draws.shape[1] // 2
    return np.concatenate([draws[:, :n], draws[:, draws.shape[1] - n:]], axis=0)


def _rank_normalise(draws: np.ndarray) -> np.ndarray:
    ranks = rankdata(draws, method="average").reshape(draws.shape)
    return ndtri((ranks - 0.375) / (draws.size + 0.25))


def _basic_rhat(chains: np.ndarray) -> float:
    m, n = chains.shape
    within = chains.var(axis=1, ddof=1).mean()
    between = n * chains.mean(axis=1).var(ddof=1)
    if within <= 0:
        return float("nan")
    var_plus = (n - 1) / n * within + between / n
    return float(np.sqrt(var_plus / within))


def rhat(draws) -> float:
    """Rank-normalised split-R-hat (Vehtari et al. 2021, eq. 14 and the folded version).

    Parameters
    ----------
    draws : array_like of shape (n_chains, n_draws)

    Returns
    -------
    float
        ``max(R-hat of the rank-normalised split chains, R-hat of their folded
        ranks)``; close to 1 for chains that agree, above 1.01-1.05 for chains
        that have not mixed.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> bool(rhat(rng.normal(size=(4, 1000))) < 1.01)
    True
    """
    chains = _split_chains(draws)
    if chains.shape[1] < 2 or np.ptp(chains) == 0:
        return float("nan")
    bulk = _basic_rhat(_rank_normalise(chains))
    folded = np.abs(chains - np.median(chains))
    tail = _basic_rhat(_rank_normalise(folded))
    return float(max(bulk, tail))


def _autocovariance(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    size = 1 << (2 * n - 1).bit_length()
    centred = x - x.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=-1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=-1)[..., :n]
    return acov / n


def ess(draws) -> float:
    """Effective sample size of (split) chains, Geyer's initial monotone sequence.

    Vehtari et al. (2021), eqs. 10-13: the autocorrelation combined across
    chains through the within- and between-chain variances, summed over
    positive pairs of lags (made monotone). Applied to the raw draws; see
    :func:`ess_bulk` and :func:`ess_tail` for the rank-normalised versions.

    Parameters
    ----------
    draws : array_like of shape (n_chains, n_draws)
    """
    chains = np.asarray(draws, dtype=float)
    if chains.ndim == 1:
        chains = chains[None, :]
    m, n = chains.shape
    if n < 4 or np.ptp(chains) == 0:
        return float("nan")
    acov = _autocovariance(chains)
    chain_var = acov[:, 0] * n / (n - 1)
    within = chain_var.mean()
    var_plus = within * (n - 1) / n
    if m > 1:
        var_plus += chains.mean(axis=1).var(ddof=1)
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer: sums of consecutive pairs while positive, made non-increasing
    pairs = rho[: 2 * (n // 2)].reshape(-1, 2).sum(axis=1)
    positive = pairs > 0
    stop = int(np.argmin(positive)) if not positive.all() else pairs.size
    pairs = np.minimum.accumulate(pairs[:stop]) if stop else pairs[:1]
    tau = -1.0 + 2.0 * pairs.sum()
    tau = max(tau, 1.0 / np.log10(m * n))
    return float(m * n / tau)


def ess_bulk(draws) -> float:
    """Bulk effective sample size: :func:`ess` of the rank-normalised split chains."""
    chains = _split_chains(draws)
    if chains.shape[1] < 4 or np.ptp(chains) == 0:
        return float("nan")
    return ess(_rank_normalise(chains))


def ess_tail(draws) -> float:
    """Tail effective sample size: the smaller ESS of the 5% and 95% quantile indicators."""
    chains = _split_chains(draws)
    if chains.shape[1] < 4 or np.ptp(chains) == 0:
        return float("nan")
    lo, hi = np.quantile(chains, [0.05, 0.95])
    return float(min(ess((chains <= lo).astype(float)), ess((chains <= hi).astype(float))))
