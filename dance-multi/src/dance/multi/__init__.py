"""dance-multi: tasks on two modalities (modality prediction, matching, joint embedding, unpaired
multi-omics integration): models, datasets and loaders, registered as the ``multi`` plugin."""
