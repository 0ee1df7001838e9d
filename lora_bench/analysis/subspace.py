"""The linear algebra of the paper's Section 7, on plain matrices (torch, float64).

Conventions as the paper: A ∈ R^{r×k} is LoRA's down-projection, ΔW = (α/r)·B·A ∈ R^{d×k}, and "U of A" is the
matrix of A's right-singular vectors, kept here as rows (r × k, the rows of Vᵀ in A = U Σ Vᵀ), strongest first.
"""

from __future__ import annotations

import numpy as np
import torch


def _f64(m) -> torch.Tensor:
    return torch.as_tensor(m).detach().to(torch.float64).cpu()


def right_singular_vectors(a) -> torch.Tensor:
    """Rows of Vᵀ from the SVD of `a`, strongest direction first: shape (min(r, k), k)."""
    return torch.linalg.svd(_f64(a), full_matrices=False).Vh


def phi_grid(a1, a2, i_max: int | None = None, j_max: int | None = None) -> np.ndarray:
    """φ(A1, A2, i, j) = ‖U_iᵀ U_j‖²_F / min(i, j) for i = 1..i_max, j = 1..j_max (entry [i-1, j-1]).

    U_i: the top-i right-singular vectors of A1, U_j: the top-j of A2. 1 when the smaller subspace lies in the
    larger one, 0 when they are orthogonal.
    """
    u1, u2 = right_singular_vectors(a1), right_singular_vectors(a2)
    i_max, j_max = i_max or u1.shape[0], j_max or u2.shape[0]
    overlap = (u1[:i_max] @ u2[:j_max].T) ** 2  # squared cosines between single directions
    captured = overlap.cumsum(0).cumsum(1).numpy()  # [i-1, j-1] = ‖U_iᵀ U_j‖²_F
    i, j = np.meshgrid(np.arange(1, i_max + 1), np.arange(1, j_max + 1), indexing="ij")
    return captured / np.minimum(i, j)


def random_phi_grid(shape1: tuple[int, int], shape2: tuple[int, int], seed: int = 0) -> np.ndarray:
    """φ between two random Gaussian matrices of the given shapes: the no-shared-structure baseline (≈ max(i,j)/k)."""
    g = torch.Generator().manual_seed(seed)
    return phi_grid(torch.randn(shape1, generator=g, dtype=torch.float64),
                    torch.randn(shape2, generator=g, dtype=torch.float64))


def top_singular(m, r: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(U (d × r), S (r), Vᵀ (r × k)) of the rank-r truncated SVD of `m`."""
    u, s, vh = torch.linalg.svd(_f64(m), full_matrices=False)
    return u[:, :r], s[:r], vh[:r]


def random_orthonormal(n: int, r: int, generator: torch.Generator) -> torch.Tensor:
    """n × r with orthonormal columns spanning a uniformly random r-dimensional subspace."""
    q, _ = torch.linalg.qr(torch.randn(n, r, generator=generator, dtype=torch.float64))
    return q


def projection_norm(w, u: torch.Tensor, vh: torch.Tensor) -> float:
    """‖Uᵀ W Vᵀ‖_F: how much of W lies in the subspaces spanned by U's columns and Vᵀ's rows."""
    return float(torch.linalg.matrix_norm(u.T @ _f64(w) @ vh.T))


def amplification(w, delta, r: int, seed: int = 0) -> dict[str, float]:
    """Table 7 for one weight matrix W and its learned update ΔW, with U, V of rank r.

    proj_delta / proj_w / proj_random: ‖UᵀWVᵀ‖_F with U, V the top-r singular vectors of ΔW, of W, or random;
    amplification = ‖ΔW‖_F / proj_delta: how strongly ΔW amplifies the directions of W it picks (paper: ≈ 21.5
    at r = 4 for GPT-3's W_q, i.e. ΔW boosts directions W barely uses).
    """
    w, delta = _f64(w), _f64(delta)
    u_d, _, vh_d = top_singular(delta, r)
    u_w, _, vh_w = top_singular(w, r)
    g = torch.Generator().manual_seed(seed)
    u_rand, v_rand = random_orthonormal(w.shape[0], r, g), random_orthonormal(w.shape[1], r, g)
    proj_delta = projection_norm(w, u_d, vh_d)
    delta_norm = float(torch.linalg.matrix_norm(delta))
    return {
        "proj_delta": proj_delta,
        "proj_w": projection_norm(w, u_w, vh_w),
        "proj_random": projection_norm(w, u_rand, v_rand.T),
        "w_norm": float(torch.linalg.matrix_norm(w)),
        "delta_norm": delta_norm,
        "amplification": delta_norm / proj_delta if proj_delta > 0 else float("inf"),
    }


def energy_profile(m) -> np.ndarray:
    """Cumulative fraction of ‖M‖²_F held by its top-1, top-2, ... singular directions."""
    s2 = torch.linalg.svdvals(_f64(m)) ** 2
    return (s2.cumsum(0) / s2.sum()).numpy()


def effective_rank(m, energy: float = 0.9) -> int:
    """The fewest singular directions of M that hold `energy` of its squared Frobenius norm (0 for M = 0)."""
    if not torch.as_tensor(m).any():
        return 0
    profile = energy_profile(m)
    # a small tolerance so that exactly `energy` (up to rounding) counts as reached
    return int(np.searchsorted(profile, energy - 1e-12) + 1)
