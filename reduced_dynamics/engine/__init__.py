"""The reduced dynamics (Eq. 6): interpolant, right-hand side, Dormand–Prince, predictions.

Numba and numpy only: no torch, no task registry. Kernels are pure functions of arrays.
"""
