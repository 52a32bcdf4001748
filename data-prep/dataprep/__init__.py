"""Text-processing helpers behind the data-prep/prepare-*.sh scripts.

The shell scripts orchestrate a recipe (fetch -> extract -> tokenise -> clean -> BPE ->
fairseq-preprocess -> publish); every step that touches text is a subcommand of
``python -m dataprep`` (see ``cli.py``), run with ``PYTHONPATH=data-prep``.

Modules, one job each:
    errors     PrepError, the one exception whose message is shown to the user.
    sources    what each benchmark downloads, from where, with which pinned checksum;
               resolving --archive / cache / download; checksum verification.
    extract    reading each benchmark's archive layout into plain text files.
    moses      Moses tokenisation, lowercasing and corpus cleaning (sacremoses).
    subword    joint BPE (subword-nmt) or sentencepiece: learn and apply.
    lmsplit    deterministic split of a WikiText-layout corpus by document.
    info       prep-info.json.
    textio     line-exact reading and atomic writing of text files.
"""
