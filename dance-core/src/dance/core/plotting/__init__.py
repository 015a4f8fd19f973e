"""Figures ``dance run`` writes next to ``result.json``, one kind per task (matplotlib, Agg canvas).

Importing this package is cheap; each module imports matplotlib and scanpy when it draws.

=================  ==============================================================================
module             draws
=================  ==============================================================================
``context``        :class:`PlotContext`: model, dataset, seed and metrics for titles
``figure``         Figures on an Agg canvas, titles, legends outside the axes, PNG files
``palette``        scanpy's categorical palettes; predicted groups coloured like matched true ones
``categorical``    points coloured by a categorical value (:class:`Colouring`)
``embedding``      UMAP of an embedding, panels by prediction / cell type / batch / modality
``spots``          spots on a tissue section (coordinates, marker size, tissue image)
``proportions``    one proportion map per cell type, predicted above true
``confusion``      row-normalised confusion matrix; predicted class counts without a truth
``regression``     predicted against observed values (hexbin, y = x)
``matching``       cross-modality matching scores, true partners on the diagonal
=================  ==============================================================================
"""
