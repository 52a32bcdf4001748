"""Data preparation: ``gpam prepare NAME`` builds a dataset under the data contract.

    $DATA_ROOT/text/<dataset>/      tokenised (+subword) text, test.raw.<lang> references
    $DATA_ROOT/data-bin/<dataset>/  fairseq-preprocess output, prep-info.json, PREPARED (last)

prep-info.json (schema in ``info.py``) says everything a run needs: task, languages, subword
model, line counts; readers never need a list of dataset names.

Modules, one job each:
    cli          ``gpam prepare NAME``: options of the built-in datasets, dispatch
    custom_cli   ``gpam prepare custom``: options of your own corpus
    catalogue    the built-in datasets (benchmarks, shipped corpora) and their defaults
    benchmarks   IWSLT14, WMT14, WikiText-103, PTB recipes
    shipped      recipes of the corpora in data-prep/corpora/
    custom       the recipe of a custom corpus; custom_checks: its input checks
    run          one recipe under the contract: staging, prep-info.json, publishing
    stage        lock, log, staging directories and their atomic publication
    steps        tokenise, subword model, fairseq-preprocess: the recipes' building blocks
    sources      what each benchmark downloads, pinned checksums, verification
    fetch        finding, downloading and verifying those files
    extract      each benchmark archive's layout -> plain text files
    moses        Moses tokenisation, lowercasing, corpus cleaning (sacremoses)
    subword      joint BPE (subword-nmt) or sentencepiece: learn and apply
    lmsplit      deterministic split of running text by document
    info         prep-info.json: its schema and writer
    textio       line-exact reading and atomic writing of text files
    errors       PrepError, the one exception whose message is shown to the user
"""
