"""scANVI: semi-supervised scVI with cell-type labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.single.batch_integration.scvi import SCVI, default_max_epochs

__all__ = ["SCANVI"]


class SCANVI(SCVI):
    """scANVI (Xu, Lopez, Mehlman, Regier, Jordan & Yosef 2021, Mol Syst Biol 17:e9620).

    scVI's generative model with a semi-supervised mixture prior over its latent space: a
    classifier ``q(y | z1)``, a second latent layer ``z2`` and ``p(z1 | z2, y)``. Every cell's
    evidence lower bound marginalises the label under the classifier; cells with a known label
    (``obs['cell_type']``) add ``classification_ratio`` (50) times the classifier's cross-entropy
    (drawn in a labelled minibatch each step, as scvi-tools does). Cells whose label is missing or
    ``unlabeled_category`` ("Unknown"; also "nan", "unlabelled", ...) are unlabelled.

    As scvi-tools recommends (``SCANVI.from_scvi_model``), an scVI model is trained first
    (``max_epochs``, scVI's heuristic when None), its weights initialise scANVI, which then trains
    for ``scanvi_epochs`` (None: ``min(10, max(2, round(scvi_epochs / 3)))``, scvi-tools'
    rule for pretrained models). With ``pretrain=False`` scANVI trains from scratch for
    ``max_epochs``. The embedding is the posterior mean of ``z1``.

    Labels are used as given: in the batch-integration task the labels stay visible to the model,
    so on fully labelled data scANVI is supervised and its bio-conservation scores are not
    comparable with unsupervised methods'. Without any labelled cell (e.g. ``kang_pbmc_stim``)
    there is nothing to classify: the model is then scVI, and says so in its notes
    (``fallback``). New cells are embedded by the encoder (not transductive); it predicts no
    labels for the task, so unseen cell types need no special treatment.
    """

    name = "scanvi"

    class Params(SCVI.Params):
        classification_ratio: float = Field(50.0, ge=0, description="weight of the classifier's cross-entropy on labelled cells")
        scanvi_epochs: int | None = Field(
            None, ge=1, description="scANVI epochs after scVI pretraining; None = min(10, max(2, scVI epochs / 3))"
        )
        pretrain: bool = Field(True, description="initialise from a trained scVI model (scvi-tools' SCANVI.from_scvi_model)")
        unlabeled_category: str = Field("Unknown", description="label value marking unlabelled cells (missing values are unlabelled too)")
        linear_classifier: bool = Field(False, description="a single linear layer as classifier")

    quick_params = {"max_epochs": 2, "scanvi_epochs": 2, "n_hidden": 16}

    def _labels(self, data: Any) -> tuple[np.ndarray, list[str]]:
        from dance.single.batch_integration.optimal_transport.transport_maps import encode_labels

        if self.keys.label_key not in data.obs.columns:
            return np.full(data.n_obs, -1, dtype=np.int64), []
        values = data.obs[self.keys.label_key].astype(object).to_numpy()
        values = np.where(values.astype(str) == self.params.unlabeled_category, None, values)
        return encode_labels(values)

    def _fit(self, data: Any) -> None:
        from dance.nn.data import RowMatrix
        from dance.single.batch_integration.scvi_module import SCANVAE, VAE

        p = self.params
        trainer = self._trainer()
        counts, codes = self._prepare(data)
        labels, self.label_names_ = self._labels(data)
        kwargs = self._module_kwargs(counts, codes)
        epochs = p.max_epochs or default_max_epochs(counts.shape[0])
        rows = RowMatrix(counts, self.device_)
        self.notes_ = {"n_genes": len(self.genes_), "n_labelled": int((labels >= 0).sum()), "n_labels": len(self.label_names_)}
        if not self.label_names_:
            self.module_ = VAE(counts.shape[1], len(self.batches_), **kwargs)
            result = self._train(trainer, self.module_, rows, codes, epochs, "train")
            self.notes_.update(fallback="no labelled cells: trained as scVI", epochs=epochs)
        else:
            self.module_ = SCANVAE(
                counts.shape[1], len(self.batches_), len(self.label_names_), linear_classifier=p.linear_classifier, **kwargs
            )
            if p.pretrain:
                vae = VAE(counts.shape[1], len(self.batches_), **kwargs)
                self._train(trainer, vae, rows, codes, epochs, "pretrain")
                self.module_.load_state_dict(vae.state_dict(), strict=False)
                scanvi_epochs = p.scanvi_epochs or int(min(10, max(2, round(epochs / 3.0))))
            else:
                scanvi_epochs = p.scanvi_epochs or epochs
            result = self._train(
                trainer, self.module_, rows, codes, scanvi_epochs, "train", labels=labels, classification_ratio=p.classification_ratio
            )
            self.notes_.update(scvi_epochs=epochs if p.pretrain else 0, scanvi_epochs=scanvi_epochs)
        self.training_history_ = trainer.history
        self.notes_.update({f"final_{k}": round(v, 4) for k, v in result.final.items()})
