"""Deconvolution models (task ``cell_type_deconvolution``), one module each."""
