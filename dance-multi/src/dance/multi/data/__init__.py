"""Small real datasets and the GRCh38 gene table embedded in the dance-multi wheel."""
