"""Statistics of studies and runs: power and minimum detectable effects of paired seeds, per-seed scores,
the unigram floor of a language model, training throughput, and the pilot's update-count rule."""
