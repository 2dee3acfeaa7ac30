"""Classifiers and metrics: evaluate (top-1, GZSL curve, AUSUC), estimator checks, baselines (ESZSL and others)."""
