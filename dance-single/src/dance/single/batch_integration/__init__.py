"""Batch-integration models (task ``batch_integration``), one module each."""
