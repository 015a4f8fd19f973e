"""Imputation models (task ``imputation``), one module each."""
