"""Step 1 of the pipeline: the constrained-norm probe (torch) and whole-grid sweeps."""
