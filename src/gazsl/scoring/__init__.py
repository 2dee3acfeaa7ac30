"""Classifiers and metrics: evaluate (top-1, GZSL curve, AUSUC), estimator checks, baselines (ESZSL and others),
ranking (candidate classes ranked by a model's scores: gazsl predict's and gazsl serve's)."""
