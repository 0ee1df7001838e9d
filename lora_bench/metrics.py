"""Task metrics from kept libraries (scikit-learn, scipy), named as the GLUE `evaluate` module names them."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def glue_metrics(task: str, predictions, references) -> dict[str, float]:
    p, r = np.asarray(predictions), np.asarray(references)
    if task == "stsb":
        if np.ptp(p) == 0:  # a constant prediction has no correlation; scipy would warn and return nan
            return {"pearson": 0.0, "spearmanr": 0.0}
        return {"pearson": float(pearsonr(p, r)[0]), "spearmanr": float(spearmanr(p, r)[0])}
    out = {"accuracy": float(accuracy_score(r, p))}
    if task == "cola":
        out["matthews_correlation"] = float(matthews_corrcoef(r, p))
    if task in ("mrpc", "qqp"):
        out["f1"] = float(f1_score(r, p))
    return out


def trivial_baseline(task: str, train_labels, eval_labels) -> dict[str, float]:
    """What predicting the training majority class (or the mean score) gets: the floor a method must clear."""
    train_labels = np.asarray(train_labels)
    if task == "stsb":
        guess = np.full(len(eval_labels), float(np.mean(train_labels)))
    else:
        values, counts = np.unique(train_labels, return_counts=True)
        guess = np.full(len(eval_labels), values[np.argmax(counts)])
    return glue_metrics(task, guess, eval_labels)
