"""Files: landscape and trajectory files (open, check, write), sweep parts, shipped data."""
