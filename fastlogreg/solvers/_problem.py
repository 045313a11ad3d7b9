"""The objective of one fit, bound to its data layout, as the solvers see it."""

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .. import _kernels as K

logger = logging.getLogger("fastlogreg")

# Entries of X per chunk when a solver converts rows of X to float64 for BLAS (F-ordered
# Hessians, float32 products): bounds each temporary to 1 MiB whatever the size of X.
CHUNK_ENTRIES = 131_072


def chunk_rows(n_features):
    """Return the rows per chunk so that a chunk contains at most CHUNK_ENTRIES entries."""
    return max(16, CHUNK_ENTRIES // max(1, n_features))


def data_layout(X):
    """Return "rows", "cols", "csr" or "csc" for a validated X."""
    if sp.issparse(X):
        return X.format
    if X.flags.c_contiguous:
        return "rows"
    if X.flags.f_contiguous:
        return "cols"
    raise ValueError("dense X must be C- or F-contiguous")


@dataclass
class Problem:
    """Minimise ``alpha * sum_i s_i * logloss_i + l2 / 2 ||w||^2 + l1 ||w||_1`` over (w, b).

    ``y`` contains 0.0 / 1.0 and ``s`` the combined sample and class weights, both float64.
    ``n_blocks`` is the number of row blocks that parallel kernels split the data into.
    """

    X: object
    y: np.ndarray
    s: np.ndarray
    alpha: float
    l1: float
    l2: float
    fit_intercept: bool
    n_blocks: int
    layout: str = field(init=False)

    def __post_init__(self):
        self.layout = data_layout(self.X)
        self.n_samples, self.n_features = self.X.shape
        # Solvers compare the max-norm of the (sub)gradient with tol * grad_scale, so that tol
        # means the same thing whatever C, n or the weights: this matches scikit-learn's
        # objective, which is divided by C * sum(s).
        self.grad_scale = self.alpha * float(self.s.sum())

    def loss_grad(self, w, b, grad, z):
        """Return the data term at (w, b); write its gradient into grad and margins into z."""
        X = self.X
        args = (self.y, self.s, w, b, self.alpha, self.n_blocks, grad, z)
        if self.layout == "rows":
            return K.loss_grad_dense_rows(X, *args)
        if self.layout == "cols":
            return K.loss_grad_dense_cols(X, *args)
        if self.layout == "csr":
            return K.loss_grad_csr(X.data, X.indices, X.indptr, *args)
        return K.loss_grad_csc(X.data, X.indices, X.indptr, *args)

    def objective_grad(self, w, b, grad, z):
        """Return the full objective at (w, b); write its smooth-part gradient into grad.

        The L2 term's gradient is added to ``grad``; the L1 term only to the value.
        """
        value = self.loss_grad(w, b, grad, z)
        if not self.fit_intercept:
            grad[-1] = 0.0
        value += K.add_l2(w, self.l2, grad)
        if self.l1 > 0.0:
            value += self.l1 * float(np.abs(w).sum())
        return value

    def penalty(self, w):
        return K.penalty_value(w, self.l1, self.l2)

    def loss_along(self, z, q, step):
        return K.loss_along_direction(z, q, step, self.y, self.s, self.alpha, self.n_blocks)

    def curvature(self, z):
        out = np.empty(self.n_samples)
        K.curvature_weights(z, self.s, self.alpha, self.n_blocks, out)
        return out

    def matvec(self, v):
        """Return X @ v as float64, without converting a float32 X to float64.

        C-ordered dense and CSR rows go through parallel kernels that accumulate in float64.
        Other layouts go through numpy or scipy, float32 data in row chunks of at most
        CHUNK_ENTRIES entries, because a product of float32 X with a float64 vector would
        upcast the whole of X.
        """
        out = np.empty(self.n_samples)
        v = np.ascontiguousarray(v, dtype=np.float64)
        if self.layout == "rows":
            K.margins_dense_rows(self.X, v, 0.0, self.n_blocks, out)
            return out
        if self.layout == "csr":
            X = self.X
            K.margins_csr(X.data, X.indices, X.indptr, v, 0.0, self.n_blocks, out)
            return out
        if self.X.dtype == np.float64:
            return np.asarray(self.X @ v, dtype=np.float64).ravel()
        rows = chunk_rows(self.n_features)
        for start in range(0, self.n_samples, rows):
            stop = min(self.n_samples, start + rows)
            chunk = self.X[start:stop]
            if sp.issparse(chunk):
                chunk = chunk.astype(np.float64)
            else:
                chunk = np.asarray(chunk, dtype=np.float64)
            out[start:stop] = np.asarray(chunk @ v).ravel()
        return out

    def hessian(self, D):
        """Return the (d + 1, d + 1) matrix [X 1]' diag(D) [X 1] of the data term.

        C-ordered dense and CSR rows go through kernels that read X once (n * d^2 / 2 and
        sum_i nnz_i^2 multiply-adds). F-ordered X goes through BLAS in row chunks, so the
        temporaries are at most CHUNK_ENTRIES entries.
        """
        d = self.n_features
        H = np.empty((d + 1, d + 1))
        if self.layout == "csr":
            X = self.X
            K.hessian_csr(X.data, X.indices, X.indptr, D, d, bool(X.has_canonical_format),
                          self.n_blocks, H)
            return H
        if self.layout == "rows":
            K.hessian_dense_rows(self.X, D, self.n_blocks, H)
            return H
        if self.layout == "csc":
            # NOTE: scipy's sparse product makes a temporary copy of X's non-zeros; CSC rows
            # cannot be sliced into cheap chunks.
            weighted = sp.diags(D) @ self.X
            H[:d, :d] = (self.X.T @ weighted).toarray()
            H[d, :d] = np.asarray(weighted.sum(axis=0)).ravel()
        else:
            H[:d, :d] = 0.0
            H[d, :d] = 0.0
            rows = chunk_rows(d)
            for start in range(0, self.n_samples, rows):
                stop = min(self.n_samples, start + rows)
                chunk = np.asarray(self.X[start:stop], dtype=np.float64)
                weighted = chunk * D[start:stop, None]
                H[:d, :d] += chunk.T @ weighted
                H[d, :d] += weighted.sum(axis=0)
        H[:d, d] = H[d, :d]
        H[d, d] = D.sum()
        return H

    def hessian_subset(self, D, active):
        """Return the Hessian of the data term restricted to the features ``active``.

        ``active`` is an increasing int64 array of m feature indices; the result has shape
        (m + 1, m + 1), the intercept last. CSC input takes the full Hessian and slices it.
        """
        m = active.shape[0]
        if m == self.n_features:
            return self.hessian(D)
        H = np.empty((m + 1, m + 1))
        X = self.X
        if self.layout == "csr":
            position = np.full(self.n_features, -1, dtype=np.int64)
            position[active] = np.arange(m)
            K.hessian_csr_subset(X.data, X.indices, X.indptr, D, position,
                                 bool(X.has_canonical_format), self.n_blocks, H)
            return H
        if self.layout in ("rows", "cols"):
            K.hessian_dense_subset(X, D, active, self.n_blocks, H)
            return H
        keep = np.append(active, self.n_features)
        return self.hessian(D)[np.ix_(keep, keep)]

    def column_view(self):
        """Return the kernel arguments that give column access, converting CSR to CSC.

        NOTE: CSR input is converted to CSC here, a copy of X's non-zeros, when coordinate
        descent sweeps columns (more than 500 features or more than 64 non-zeros per row).
        Pass CSC (or dense) X to the L1 solver to avoid it.
        """
        if self.layout in ("rows", "cols"):
            return ("dense", (self.X,))
        csc = self.X if self.layout == "csc" else self.X.tocsc()
        return ("csc", (csc.data, csc.indices, csc.indptr))


ARMIJO = 1e-4
MAX_HALVINGS = 40
# Relative change of the objective that is rounding noise for float64 sums of n terms.
NOISE = 64 * np.finfo(np.float64).eps


def accepts_full_step(trial, value, slope):
    """Return whether the objective ``trial`` after a full step passes ``backtrack``'s test."""
    return trial <= value + ARMIJO * slope or trial - value <= NOISE * abs(value)


def backtrack(problem, z, q, w, dw, value, slope):
    """Return the step length along (dw, q = X dw + db) chosen by Armijo backtracking.

    ``slope`` is the predicted decrease per unit step (negative). Returns ``(step, trial)``, or
    ``(0.0, value)`` when no step decreases the objective. Near the optimum the decrease is
    below rounding noise. A full step whose objective is within that noise is then accepted,
    so the solver keeps reducing the gradient instead of halving the step to nothing.
    """
    step = 1.0
    for _ in range(MAX_HALVINGS):
        trial = problem.loss_along(z, q, step) + problem.penalty(w + step * dw)
        if trial <= value + ARMIJO * step * slope:
            return step, trial
        if step == 1.0 and accepts_full_step(trial, value, slope):
            return step, trial
        step *= 0.5
    return 0.0, value


@dataclass
class SolverResult:
    coef: np.ndarray
    intercept: float
    n_iter: int
    loss_history: list
    converged: bool
    message: str = ""


def log_iteration(verbose, solver, iteration, objective, violation):
    if verbose:
        logger.info(
            "%s iteration %d: objective %.10g, max gradient %.3g", solver, iteration, objective,
            violation,
        )
