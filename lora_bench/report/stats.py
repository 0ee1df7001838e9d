"""Statistics over seeds: what a table may claim about one method, and about one method against another.

Per (model, task, method): median, mean ± std, and a percentile-bootstrap 95% CI of the mean. Against a
baseline, per seed: the runs of two methods with the same seed saw the same training examples (the data subset
is drawn with a fixed seed), so the comparison is paired. Its significance marker comes from the paired t-test
(the CI of the mean difference is the t interval, so "CI excludes 0" and "p < 0.05" agree). The exact sign-flip
test is reported beside it: it assumes nothing about the shape of the differences, but with n pairs its
smallest p is 2/2^n (0.25 for 3 seeds), so with few seeds only the t-test can back a claim, and only by
assuming roughly normal differences. Fewer than 3 seeds (or pairs) are flagged and not tested.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

MIN_SEEDS = 3
ALPHA = 0.05
N_RESAMPLES = 9999
SEED = 0  # the bootstrap's resampling seed: tables are reproducible byte for byte


def summarize(scores) -> dict:
    """n, median, mean, std (ddof 1) and the bootstrap 95% CI of the mean; `few_seeds` when n < 3."""
    x = np.asarray(scores, dtype=float)
    n = len(x)
    out = {"n": n, "median": np.nan, "mean": np.nan, "std": np.nan, "ci_low": np.nan, "ci_high": np.nan,
           "few_seeds": n < MIN_SEEDS}
    if n:
        out |= {"median": float(np.median(x)), "mean": float(x.mean())}
    if n >= 2:
        ci = stats.bootstrap((x,), np.mean, n_resamples=N_RESAMPLES, method="percentile",
                             rng=np.random.default_rng(SEED)).confidence_interval
        out |= {"std": float(x.std(ddof=1)), "ci_low": float(ci.low), "ci_high": float(ci.high)}
    return out


def paired(ours: dict, base: dict) -> dict:
    """`ours` − `base` over the seeds both have (seed → score): mean difference, its 95% CI, p-values, verdict.

    Verdict: "better" / "worse" when the paired t-test rejects equal means at 5%, "no significant difference"
    when it does not, "too few seeds" below 3 pairs (then nothing is tested)."""
    seeds = sorted(set(ours) & set(base))
    d = np.array([ours[s] - base[s] for s in seeds], dtype=float)
    out = {"n_pairs": len(d), "diff_mean": float(d.mean()) if len(d) else np.nan, "diff_ci_low": np.nan,
           "diff_ci_high": np.nan, "p_t": np.nan, "p_signflip": np.nan, "verdict": "too few seeds"}
    if len(d) < MIN_SEEDS:
        return out
    if np.all(d == d[0]):  # no spread: the t statistic is ±inf (or 0/0 when identical)
        p_t, (low, high) = (1.0 if d[0] == 0 else 0.0), (d[0], d[0])
    else:
        t = stats.ttest_1samp(d, 0.0)
        p_t, (low, high) = float(t.pvalue), t.confidence_interval(1 - ALPHA)
    flip = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                  vectorized=False)
    verdict = "no significant difference" if p_t >= ALPHA else ("better" if d.mean() > 0 else "worse")
    return out | {"diff_ci_low": float(low), "diff_ci_high": float(high), "p_t": p_t,
                  "p_signflip": float(flip.pvalue), "verdict": verdict}


def marker(verdict: str) -> str:
    """The sign a table cell carries: ▲ better / ▼ worse than the baseline (paired t-test, 5%)."""
    return {"better": "▲", "worse": "▼"}.get(verdict, "")
