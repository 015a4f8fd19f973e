"""dance-single: single-modality tasks (cell-type annotation, clustering, imputation, batch
integration): models, datasets and their loaders, registered as the ``single`` plugin."""
