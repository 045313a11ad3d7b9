"""Final objective and accuracy of default fits, tracked so that speed work cannot trade them.

Accuracy is on the a9a test file when ``shared/data`` is present (else on the held-out part of
the generated stand-in), and on a held-out quarter of the generated dense problem.
"""

import warnings

from fastlogreg import LogisticRegression

from .common import accuracy, load_a9a, make_dense, objective

PENALTIES = {"l2": 0.0, "l1": 1.0, "elasticnet": 0.5}


def load_split(problem):
    if problem == "a9a":
        return load_a9a()
    X, y = make_dense(40_000, 100, seed=11)
    return X[:30_000], y[:30_000], X[30_000:], y[30_000:]


class FitQuality:
    """Default fits (C=1, tol=1e-4), made once in ``setup_cache`` and scored per figure."""

    params = (["a9a", "dense"], list(PENALTIES))
    param_names = ["problem", "penalty"]
    timeout = 600

    def setup_cache(self):
        fitted = {}
        for problem in self.params[0]:
            X, y, _, _ = load_split(problem)
            for penalty, l1_ratio in PENALTIES.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = LogisticRegression(C=1.0, l1_ratio=l1_ratio).fit(X, y)
                fitted[problem, penalty] = (model.coef_, model.intercept_[0],
                                            float(model.loss_history_[-1]))
        return fitted

    def setup(self, fitted, problem, penalty):
        self.X, self.y, self.X_test, self.y_test = load_split(problem)
        self.l1_ratio = PENALTIES[penalty]
        self.coef, self.intercept, self.reported = fitted[problem, penalty]

    def track_final_objective(self, fitted, problem, penalty):
        return objective(self.X, self.y, self.coef, self.intercept, 1.0, self.l1_ratio)

    track_final_objective.unit = "objective"

    def track_reported_objective_gap(self, fitted, problem, penalty):
        # loss_history_[-1] must be the objective at the fitted weights.
        recomputed = objective(self.X, self.y, self.coef, self.intercept, 1.0, self.l1_ratio)
        return abs(self.reported - recomputed) / abs(recomputed)

    track_reported_objective_gap.unit = "relative difference"

    def track_test_accuracy(self, fitted, problem, penalty):
        return accuracy(self.X_test, self.y_test, self.coef, self.intercept)

    track_test_accuracy.unit = "accuracy"

    def track_train_accuracy(self, fitted, problem, penalty):
        return accuracy(self.X, self.y, self.coef, self.intercept)

    track_train_accuracy.unit = "accuracy"
