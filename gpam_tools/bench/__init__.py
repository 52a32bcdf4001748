"""Benchmarks of daGPAM against fairseq's softmax attention.

    command     ``gpam bench``: the CPU benchmark and its report (results/benchmarks*.md)
    settings    sizes of the full and the --quick run; the targets
    workloads   what is run (modules, training steps, generation) and its FLOPs
    timing      interleaved rounds and per-round ratios
    measure     the timed parts (a)-(c)
    memory      (d): peak memory in a fresh subprocess per variant
    report      the Markdown report, from the raw measurements
    gpu_*       the stages of ``gpam gpu-check`` (gpam_tools/bench/gpu_check.py)
"""
