"""Evaluation: segmentation, shape, localization and clinical metrics, outliers, Tables I–IV.

Import the submodules directly (``from lunet.evaluation.segmentation import dice``); this package
imports nothing heavy.
"""
