"""Spatial-domain models (task ``spatial_domain``), one module each."""
