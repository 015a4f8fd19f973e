"""Models of task ``modality_matching``, one module each."""
