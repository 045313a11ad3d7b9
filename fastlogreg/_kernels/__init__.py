"""Numba kernels on plain arrays. No validation happens here: callers pass checked arrays."""

from .cd import cd_newton_csc, cd_newton_dense, cd_newton_gram
from .hessian import hessian_csr, hessian_csr_subset, hessian_dense_rows, hessian_dense_subset
from .loss_grad import (
    curvature_weights,
    loss_along_direction,
    loss_grad_csc,
    loss_grad_csr,
    loss_grad_dense_cols,
    loss_grad_dense_rows,
    margins_csr,
    margins_dense_rows,
)
from .penalty import add_l2, min_norm_subgradient, penalty_value, prox_elastic_net
from .sigmoid import log1pexp_array, sigmoid_array
from .softmax import (
    softmax_class_curvature,
    softmax_loss_along,
    softmax_loss_grad_csr,
    softmax_loss_grad_dense_rows,
    softmax_residuals,
)

__all__ = [
    "add_l2",
    "cd_newton_csc",
    "cd_newton_dense",
    "cd_newton_gram",
    "curvature_weights",
    "hessian_csr",
    "hessian_csr_subset",
    "hessian_dense_rows",
    "hessian_dense_subset",
    "log1pexp_array",
    "loss_along_direction",
    "loss_grad_csc",
    "loss_grad_csr",
    "loss_grad_dense_cols",
    "loss_grad_dense_rows",
    "margins_csr",
    "margins_dense_rows",
    "min_norm_subgradient",
    "penalty_value",
    "prox_elastic_net",
    "sigmoid_array",
    "softmax_class_curvature",
    "softmax_loss_along",
    "softmax_loss_grad_csr",
    "softmax_loss_grad_dense_rows",
    "softmax_residuals",
]
