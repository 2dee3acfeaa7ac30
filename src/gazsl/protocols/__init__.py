"""Protocols: what is trained on and scored on what, and where runs and tables go.

    protocol         the honest and the paper protocol (sets, phases, figures)
    training         a protocol run end to end: phases trained, figures, model and metrics saved
    runs             a run's folder: record, provenance, reuse and resume
    cells            experiment configs (one per table cell) and the runs that fill them
    tables           result tables and GZSL curves of gazsl.reproduce and gazsl.leaderboard
    leaderboard      the leaderboard's methods, runs, the baselines' protocol, selection rule, statistics and tables
    benchmark        the cross-validated benchmark's design, cells and records (benchmark_table: its tables, plot)
    paired           paired differences over folds with the corrected resampled t interval
"""
