"""Public test helpers: synthetic landscapes with known answers, reference pipelines."""
