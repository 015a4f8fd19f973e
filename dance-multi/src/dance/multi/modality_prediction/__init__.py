"""Models of task ``modality_prediction``, one module each."""
