"""The results collector: kept runs in, tables and plots out (``gpam collect``).

Modules, in the order data flows through them:
    logs.py          facts from fairseq-train and fairseq-eval-lm logs
    reading.py       every kept run under a root, as one record (the one result layout)
    grouping.py      which runs are compared (a setting) and by which metrics
    stats.py         mean ± sd, paired t-test with its interval and MDE over seeds, bootstrap per seed
    paper.py         the paper's figures (beside full-size runs only)
    comparison.py    the side-by-side rows: baseline against each compared system
    per_run.py       one row per run: scale and its own scores
    render.py        rows as markdown / CSV
    plots.py         validation-loss curves
    report.py        the files of one results directory
    variant_table.py the first alternatives study's layout and table (kept results only)
    command.py       the command line
"""
