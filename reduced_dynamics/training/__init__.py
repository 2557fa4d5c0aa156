"""Step 3 of the pipeline: full training runs (torch), many runs as one batched model."""
