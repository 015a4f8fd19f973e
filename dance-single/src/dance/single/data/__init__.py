"""Small real datasets embedded in the dance-single wheel (see dance.single.datasets)."""
