"""Solvers: Python loops that call the kernels, test convergence and record the objective."""

from ._problem import Problem, SolverResult, data_layout
from .cd import solve_cd
from .lbfgs import solve_lbfgs
from .newton import solve_newton
from .sgd import solve_sgd

SOLVERS = {
    "newton": solve_newton,
    "lbfgs": solve_lbfgs,
    "cd": solve_cd,
    "sgd": solve_sgd,
}

# Solvers that minimise only smooth objectives (no L1 term).
SMOOTH_SOLVERS = ("newton", "lbfgs")

__all__ = ["Problem", "SMOOTH_SOLVERS", "SOLVERS", "SolverResult", "data_layout",
           "solve_cd", "solve_lbfgs", "solve_newton", "solve_sgd"]
