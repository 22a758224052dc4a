"""The rooms of a search; `visionpath.tune` (tune.py) is the entry that runs it.

    space   what a search varies: the model's default space, or a TOML file's
    storage where the trials live (a SQLite file, or a server machines share), the heartbeat, the claim of a trial
    study   the study's folder, its pruner, its best trial as a command
    page    study.html: the best trial, the table of trials, Optuna's plots
"""
