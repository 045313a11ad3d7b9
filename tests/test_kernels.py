"""Kernels against closed forms, scipy.special and finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, log_expit

import fastlogreg
from fastlogreg import _kernels as K
from fastlogreg.solvers import Problem

EXTREMES = [-1e3, -745.0, -89.0, -30.0, -1.0, 0.0, 1.0, 30.0, 89.0, 745.0, 1e3]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_expit(dtype):
    z = np.array(EXTREMES, dtype=dtype)
    with np.errstate(all="raise"):
        out = fastlogreg.sigmoid(z)
    assert out.dtype == dtype
    assert out.shape == z.shape
    # The absolute tolerance covers exp(-745), a subnormal that expit rounds to 0.
    np.testing.assert_allclose(out, expit(z.astype(np.float64)),
                               rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-300)


def test_sigmoid_float32_edges():
    z = np.array([-89.0, 89.0, 0.0], dtype=np.float32)
    out = fastlogreg.sigmoid(z)
    assert np.all(np.isfinite(out))
    assert out[1] == np.float32(1.0)
    assert out[2] == np.float32(0.5)
    assert 0.0 <= out[0] < 1e-38


def test_sigmoid_keeps_shape_and_scalars():
    assert fastlogreg.sigmoid(0.0) == 0.5
    assert fastlogreg.sigmoid(np.zeros((2, 3))).shape == (2, 3)
    assert fastlogreg.sigmoid([1, 2]).dtype == np.float64
    assert fastlogreg.sigmoid(np.empty(0)).shape == (0,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log1pexp_matches_log_expit(dtype):
    z = np.array(EXTREMES, dtype=dtype)
    with np.errstate(all="raise"):
        out = fastlogreg.log1pexp(z)
    # log(1 + exp(z)) = -log_expit(-z)
    expected = -log_expit(-z.astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-300)
    assert np.all(np.isfinite(out))


def numpy_loss_grad(X, y, s, w, b, alpha):
    """Two-pass numpy reference of the data term and its gradient."""
    z = np.asarray(X @ w).ravel() + b
    loss = alpha * np.sum(s * np.logaddexp(0.0, np.where(y > 0.5, -z, z)))
    r = alpha * s * (expit(z) - y)
    grad_w = np.asarray(X.T @ r).ravel()
    return loss, np.append(grad_w, r.sum()), z


def layouts(X):
    return {
        "rows": X,
        "cols": np.asfortranarray(X),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "csr64": csr_with_int64_indices(X),
    }


def csr_with_int64_indices(X):
    matrix = sp.csr_matrix(X)
    # The constructor narrows index arrays to int32; load_svmlight_file returns int64.
    matrix.indices = matrix.indices.astype(np.int64)
    matrix.indptr = matrix.indptr.astype(np.int64)
    return matrix


def sparse_input(rng, n, d, dtype):
    X = rng.standard_normal((n, d))
    X[rng.random((n, d)) < 0.5] = 0.0
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["rows", "cols", "csr", "csc", "csr64"])
def test_fused_pass_matches_two_pass_numpy(rng, dtype, layout):
    n, d = 257, 7
    X = layouts(sparse_input(rng, n, d, dtype))[layout]
    y = (rng.random(n) < 0.4).astype(np.float64)
    s = rng.uniform(0.0, 3.0, n)
    w = rng.standard_normal(d)
    b = 0.3
    problem = Problem(X, y, s, alpha=0.7, l1=0.0, l2=0.0, fit_intercept=True, n_blocks=3)
    grad = np.empty(d + 1)
    z = np.empty(n)
    loss = problem.loss_grad(w, b, grad, z)

    ref_loss, ref_grad, ref_z = numpy_loss_grad(X.astype(np.float64), y, s, w, b, 0.7)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, ref_loss, rtol=rtol)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol * np.abs(ref_grad).max())
    np.testing.assert_allclose(z, ref_z, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("layout", ["rows", "cols", "csr", "csc"])
def test_fused_gradient_matches_finite_differences(rng, layout):
    n, d = 120, 5
    X = layouts(sparse_input(rng, n, d, np.float64))[layout]
    y = (rng.random(n) < 0.5).astype(np.float64)
    s = rng.uniform(0.5, 2.0, n)
    theta = rng.standard_normal(d + 1)
    problem = Problem(X, y, s, alpha=1.3, l1=0.0, l2=0.4, fit_intercept=True, n_blocks=2)
    grad = np.empty(d + 1)
    z = np.empty(n)

    def objective(t):
        return problem.objective_grad(t[:d].copy(), t[d], np.empty(d + 1), np.empty(n))

    problem.objective_grad(theta[:d].copy(), theta[d], grad, z)
    h = 1e-3
    fd = np.empty(d + 1)
    for j in range(d + 1):
        e = np.zeros(d + 1)
        e[j] = h
        # Fourth-order central difference: error O(h^4).
        fd[j] = (-objective(theta + 2 * e) + 8 * objective(theta + e)
                 - 8 * objective(theta - e) + objective(theta - 2 * e)) / (12 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-8, atol=1e-8)


def test_fused_pass_block_count_does_not_change_result(rng):
    X = rng.standard_normal((101, 4))
    y = (rng.random(101) < 0.5).astype(np.float64)
    s = np.ones(101)
    w = rng.standard_normal(4)
    results = []
    for n_blocks in (1, 2, 5, 101):
        grad = np.empty(5)
        z = np.empty(101)
        loss = K.loss_grad_dense_rows(X, y, s, w, 0.1, 1.0, n_blocks, grad, z)
        results.append(np.append(grad, loss))
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-12)


def test_fused_pass_extreme_margins_stay_finite():
    X = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    grad = np.empty(2)
    z = np.empty(4)
    loss = K.loss_grad_dense_rows(X, y, np.ones(4), np.ones(1), 0.0, 1.0, 2, grad, z)
    # Two samples fit perfectly (loss 0), two are wrong by a margin of 1e4 each.
    np.testing.assert_allclose(loss, 2e4)
    np.testing.assert_allclose(grad, [2e4, 0.0])


def test_l2_update_adds_gradient_and_returns_term():
    w = np.array([1.0, -2.0, 0.5])
    grad = np.array([0.1, 0.2, 0.3, 0.4])
    value = K.add_l2(w, 0.5, grad)
    np.testing.assert_allclose(value, 0.25 * (1 + 4 + 0.25))
    np.testing.assert_allclose(grad, [0.6, -0.8, 0.55, 0.4])


def test_prox_elastic_net_soft_thresholds_to_exact_zeros():
    v = np.array([3.0, -3.0, 0.5, -0.5, 1.0])
    out = np.empty_like(v)
    K.prox_elastic_net(v, 0.5, 2.0, 1.0, out)
    # Threshold step * l1 = 1, then shrink by 1 + step * l2 = 1.5.
    np.testing.assert_allclose(out, [2 / 1.5, -2 / 1.5, 0.0, 0.0, 0.0])
    assert np.all(out[2:] == 0.0)


def test_prox_elastic_net_is_the_proximal_point(rng):
    v = rng.standard_normal(6) * 3
    out = np.empty_like(v)
    step, l1, l2 = 0.3, 1.2, 0.7
    K.prox_elastic_net(v, step, l1, l2, out)
    grid = np.linspace(-5, 5, 200001)
    for j in range(v.shape[0]):
        values = (grid - v[j]) ** 2 / (2 * step) + l1 * np.abs(grid) + 0.5 * l2 * grid**2
        assert abs(out[j] - grid[np.argmin(values)]) < 1e-4


@pytest.mark.parametrize("layout", ["rows", "cols", "csr", "csc", "csr64"])
def test_hessian_matches_numpy(rng, layout):
    n, d = 150, 6
    X = sparse_input(rng, n, d, np.float64)
    D = rng.uniform(0.0, 0.25, n)
    D[:10] = 0.0
    problem = Problem(layouts(X)[layout], np.zeros(n), np.ones(n), alpha=1.0, l1=0.0, l2=0.0,
                      fit_intercept=True, n_blocks=3)
    augmented = np.column_stack([X, np.ones(n)])
    expected = augmented.T @ (D[:, None] * augmented)
    np.testing.assert_allclose(problem.hessian(D), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["rows", "cols", "csr", "csc", "csr64", "rows32"])
def test_hessian_subset_matches_numpy(rng, layout):
    n, d = 150, 7
    X = sparse_input(rng, n, d, np.float64)
    variants = layouts(X)
    variants["rows32"] = X.astype(np.float32)
    D = rng.uniform(0.0, 0.25, n)
    problem = Problem(variants[layout], np.zeros(n), np.ones(n), alpha=1.0, l1=0.0, l2=0.0,
                      fit_intercept=True, n_blocks=3)
    for active in ([1, 4, 5], [0], [6], list(range(d))):
        active = np.array(active, dtype=np.int64)
        augmented = np.column_stack([X[:, active].astype(np.float64), np.ones(n)])
        expected = augmented.T @ (D[:, None] * augmented)
        rtol = 1e-6 if layout == "rows32" else 1e-12
        np.testing.assert_allclose(problem.hessian_subset(D, active), expected, rtol=rtol,
                                   atol=rtol)


def test_hessian_csr_unsorted_and_duplicate_indices(rng):
    # The halved loop needs canonical rows; rows in any other order take the full loop.
    n, d = 60, 5
    X = sparse_input(rng, n, d, np.float64)
    D = rng.uniform(0.0, 0.25, n)
    canonical = sp.csr_matrix(X)
    reversed_rows = sp.csr_matrix(
        (canonical.data.copy(), canonical.indices.copy(), canonical.indptr.copy()), shape=(n, d))
    for i in range(n):
        lo, hi = reversed_rows.indptr[i], reversed_rows.indptr[i + 1]
        reversed_rows.indices[lo:hi] = reversed_rows.indices[lo:hi][::-1].copy()
        reversed_rows.data[lo:hi] = reversed_rows.data[lo:hi][::-1].copy()
    reversed_rows.has_sorted_indices = False
    # The first stored entry split into two entries of the same column.
    half = canonical.data[:1] / 2
    split = sp.csr_matrix((np.r_[half, half, canonical.data[1:]],
                           np.r_[canonical.indices[:1], canonical.indices],
                           np.r_[0, canonical.indptr[1:] + 1]), shape=(n, d))
    augmented = np.column_stack([X, np.ones(n)])
    expected = augmented.T @ (D[:, None] * augmented)
    for matrix in (canonical, reversed_rows, split):
        problem = Problem(matrix, np.zeros(n), np.ones(n), alpha=1.0, l1=0.0, l2=0.0,
                          fit_intercept=True, n_blocks=2)
        np.testing.assert_allclose(problem.hessian(D), expected, rtol=1e-12, atol=1e-12)
        subset = np.array([0, 2, 3], dtype=np.int64)
        keep = np.append(subset, d)
        np.testing.assert_allclose(problem.hessian_subset(D, subset), expected[np.ix_(keep, keep)],
                                   rtol=1e-12, atol=1e-12)
    assert canonical.has_canonical_format
    assert not split.has_canonical_format


def test_vectorized_exp_matches_numpy():
    from fastlogreg._kernels.vectormath import exp_neg_abs

    z = np.concatenate([np.linspace(-800.0, 800.0, 20001), np.geomspace(1e-300, 700.0, 2001),
                        [0.0, -0.0, 708.0, -708.0, 709.0, 1e6]])
    out = np.empty_like(z)
    exp_neg_abs(z, z.size, np.empty_like(z), out)
    expected = np.exp(-np.abs(z))
    normal = np.abs(z) <= 708.0
    np.testing.assert_allclose(out[normal], expected[normal], rtol=4e-16, atol=0.0)
    # Below exp(-708) float64 is subnormal; those results are exact zeros.
    assert np.all(out[~normal] == 0.0)


def test_vectorized_log1p_matches_numpy():
    from fastlogreg._kernels.vectormath import log1p_unit

    e = np.concatenate([[0.0, 1e-300, 1e-17, 1.0], np.geomspace(1e-20, 1.0, 5001),
                        np.linspace(0.0, 1.0, 5001)])
    out = np.array([log1p_unit(v) for v in e])
    np.testing.assert_allclose(out, np.log1p(e), rtol=6e-16, atol=0.0)


@pytest.mark.parametrize("layout", ["rows", "cols", "csr", "csc", "csr64", "rows32", "csr32"])
def test_matvec_matches_numpy(rng, layout):
    n, d = 301, 7
    X = sparse_input(rng, n, d, np.float64)
    variants = layouts(X)
    variants["rows32"] = X.astype(np.float32)
    variants["csr32"] = sp.csr_matrix(X.astype(np.float32))
    matrix = variants[layout]
    problem = Problem(matrix, np.zeros(n), np.ones(n), alpha=1.0, l1=0.0, l2=0.0,
                      fit_intercept=True, n_blocks=3)
    v = rng.standard_normal(d)
    out = problem.matvec(v)
    assert out.dtype == np.float64
    dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    np.testing.assert_allclose(out, dense.astype(np.float64) @ v, rtol=1e-12, atol=1e-12)
