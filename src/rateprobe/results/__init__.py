"""The typed contract between the pipeline's results and the paper (results/summary.json)."""
