"""Models of task ``joint_embedding``, one module each."""
