"""Models of task ``multiomics_integration``, one module each."""
