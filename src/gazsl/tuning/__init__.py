"""Tuning a method's settings on validation classes with Optuna (the command: gazsl.tune).

    space     search spaces: what a study may vary, checked value by value
    trials    what a trial sees (seen_view) and what it runs (the honest selection run, or a baseline fit)
    study     storage, studies, workers sharing one study, trial bookkeeping; one tuning job (prepare, work)
    summary   the results page, its plots, and the best trial as an experiment config
"""
