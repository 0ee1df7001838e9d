"""Section 7's linear algebra on matrices whose answer is known."""

import numpy as np
import pytest
import torch

from lora_bench.analysis import subspace as S


def _basis(k, seed=0):
    """A random orthonormal basis of R^k, as rows."""
    q, _ = torch.linalg.qr(torch.randn(k, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q.T


def test_phi_is_one_for_the_same_subspace_in_any_basis():
    a = torch.randn(8, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mix = torch.randn(8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    np.testing.assert_allclose(S.phi_grid(a, a), 1.0, atol=1e-10)  # every (i, j): the same nested subspaces
    assert S.phi_grid(a, mix @ a)[-1, -1] == pytest.approx(1.0)  # whole row spaces agree; the directions differ


def test_phi_is_zero_for_orthogonal_subspaces_and_one_inside_a_larger_one():
    e = _basis(32)
    a1, a2 = torch.diag(torch.tensor([4.0, 3, 2, 1], dtype=torch.float64)) @ e[:4], e[4:12]
    np.testing.assert_allclose(S.phi_grid(a1, a2), 0.0, atol=1e-12)
    big = torch.cat([e[:4], e[12:20]])  # holds all of a1's directions among 8 others
    assert S.phi_grid(a1, big)[-1, -1] == pytest.approx(1.0)  # φ(4, 12): the smaller one lies in the larger one
    assert S.phi_grid(a1, big).shape == (4, 12)


def test_phi_of_one_direction_is_its_squared_cosine():
    e = _basis(16)
    a1 = e[:1]  # one direction u
    a2 = (e[0] + e[1]).reshape(1, -1) / 2**0.5  # at 45° to u
    assert S.phi_grid(a1, a2)[0, 0] == pytest.approx(0.5)
    # top directions follow the singular values: a2's strongest row decides φ(1, ·)
    a2 = torch.stack([3 * e[1], e[0]])
    grid = S.phi_grid(a1, a2)
    assert grid[0, 0] == pytest.approx(0.0, abs=1e-12) and grid[0, 1] == pytest.approx(1.0)


def test_random_baseline_is_near_max_i_j_over_k():
    k = 256
    grids = np.stack([S.random_phi_grid((8, k), (32, k), seed=s) for s in range(40)])
    mean = grids.mean(0)
    i, j = np.indices(mean.shape) + 1
    np.testing.assert_allclose(mean, np.maximum(i, j) / k, rtol=0.35)
    assert mean[0, 0] < 0.02 and (grids >= 0).all() and (grids <= 1 + 1e-12).all()


def test_amplification_of_a_constructed_update():
    d = 24
    u, v = _basis(d, seed=1).T, _basis(d, seed=2).T  # columns: orthonormal bases of output and input space
    sigma = torch.tensor([10.0, 5.0, 2.0] + [0.5] * (d - 3), dtype=torch.float64)
    w = u @ torch.diag(sigma) @ v.T
    # ΔW amplifies W's third direction by 7 (a rank-1 update along u_3 v_3ᵀ)
    delta = 7.0 * torch.outer(u[:, 2], v[:, 2])
    a = S.amplification(w, delta, r=1)
    assert a["proj_delta"] == pytest.approx(2.0)  # ‖u_3ᵀ W v_3‖ = σ_3
    assert a["proj_w"] == pytest.approx(10.0)  # W's own top direction: σ_1
    assert a["w_norm"] == pytest.approx(float(sigma.norm())) and a["delta_norm"] == pytest.approx(7.0)
    assert a["amplification"] == pytest.approx(3.5)
    assert a["proj_random"] < a["proj_w"]
    # an update along W's top direction amplifies nothing W does not already do strongly
    assert S.amplification(w, 7.0 * torch.outer(u[:, 0], v[:, 0]), r=1)["amplification"] == pytest.approx(0.7)
    # at r = 2 with ΔW along directions 1 and 3: ‖UᵀWVᵀ‖ = sqrt(σ_1² + σ_3²)
    delta2 = delta + 3.0 * torch.outer(u[:, 0], v[:, 0])
    assert S.amplification(w, delta2, r=2)["proj_delta"] == pytest.approx((100 + 4) ** 0.5)


def test_effective_rank_holds_the_requested_energy():
    m = torch.diag(torch.tensor([3.0, 1.0, 1.0, 0.0]))  # energies 9, 1, 1 of 11
    assert S.effective_rank(m, 0.8) == 1  # 9/11 = 0.82
    assert S.effective_rank(m, 0.9) == 2  # 10/11 = 0.91
    assert S.effective_rank(m, 1.0) == 3
    np.testing.assert_allclose(S.energy_profile(m), [9 / 11, 10 / 11, 1, 1])
    assert S.effective_rank(torch.zeros(4, 4)) == 0
