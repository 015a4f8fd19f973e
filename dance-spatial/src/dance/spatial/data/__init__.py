"""Small real datasets embedded in the dance-spatial wheel."""
