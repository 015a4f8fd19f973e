"""The ten task contracts dance-core declares (one module each)."""

TASK_MODULES = (
    "dance.core.tasks.cell_type_annotation",
    "dance.core.tasks.clustering",
    "dance.core.tasks.imputation",
    "dance.core.tasks.batch_integration",
    "dance.core.tasks.modality_prediction",
    "dance.core.tasks.modality_matching",
    "dance.core.tasks.joint_embedding",
    "dance.core.tasks.multiomics_integration",
    "dance.core.tasks.spatial_domain",
    "dance.core.tasks.cell_type_deconvolution",
)
