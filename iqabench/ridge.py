"""Ridge regression over a whole path of alphas from one eigendecomposition.

For centred data (the intercept is fitted, as ``sklearn.linear_model.Ridge(fit_intercept=True)``)
the ridge solution is ``w(α) = (XᵀX + αI)⁻¹ Xᵀy``. With the eigendecomposition of the smaller of
the two Gram matrices,

* ``n ≥ d``: ``XᵀX = V Λ Vᵀ``  →  ``w(α) = V diag(1/(λ+α)) Vᵀ Xᵀy``;
* ``n < d``: ``XXᵀ = U Λ Uᵀ``  →  ``w(α) = Xᵀ U diag(1/(λ+α)) Uᵀ y``,

so every alpha costs one diagonal scaling, and predictions for all alphas are one matrix product.
This is what lets ``within_dataset`` search 100 alphas × 10 splits for the cost of 10 fits.
Everything is float64, as sklearn's cholesky solver.
"""

from __future__ import annotations

import numpy as np

# ARNIQA's grid: np.geomspace(1e-3, 1e3, 100), chosen on validation.
DEFAULT_ALPHAS = np.geomspace(1e-3, 1e3, 100)


class RidgePath:
    def __init__(self, X: np.ndarray, y: np.ndarray):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise ValueError(f"X {X.shape} and y {y.shape} do not match")
        if X.shape[0] < 2:
            raise ValueError("ridge needs at least 2 training rows")
        self.x_mean = X.mean(axis=0)
        self.y_mean = float(y.mean())
        Xc = X - self.x_mean
        yc = y - self.y_mean
        n, d = Xc.shape
        if n >= d:
            evals, V = np.linalg.eigh(Xc.T @ Xc)  # LAPACK syevd (divide and conquer)
            self.basis = V  # d × d
            self.proj = V.T @ (Xc.T @ yc)
        else:
            evals, U = np.linalg.eigh(Xc @ Xc.T)
            self.basis = Xc.T @ U  # d × n
            self.proj = U.T @ yc
        # Rounding can leave tiny negative eigenvalues of a PSD matrix.
        self.evals = np.clip(evals, 0.0, None)

    def coef(self, alpha: float) -> np.ndarray:
        return self.basis @ (self.proj / (self.evals + alpha))

    def intercept(self, alpha: float) -> float:
        return self.y_mean - float(self.x_mean @ self.coef(alpha))

    def predict(self, X: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Predictions for every alpha: ``len(X) × len(alphas)``."""
        alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
        Z = (np.asarray(X, dtype=np.float64) - self.x_mean) @ self.basis
        W = self.proj[:, None] / (self.evals[:, None] + alphas[None, :])
        return Z @ W + self.y_mean
