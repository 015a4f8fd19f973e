"""Cell-type annotation models (task ``cell_type_annotation``), one module each."""
