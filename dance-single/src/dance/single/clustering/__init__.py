"""Clustering models (task ``clustering``), one module each."""
