"""torch building blocks shared by dance-single's deep models (one job per module)."""
