"""An example dance plugin: spectral clustering (model) and a MERFISH reference (dataset)."""
