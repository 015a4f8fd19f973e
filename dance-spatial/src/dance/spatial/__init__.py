"""dance-spatial: spatial domains and cell-type deconvolution: models, datasets, readers and
pseudo-spot generators, registered as the ``spatial`` plugin."""
