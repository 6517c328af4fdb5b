"""Data: CAMUS readers (both releases), the synthetic phantom, folds and preprocessing."""
