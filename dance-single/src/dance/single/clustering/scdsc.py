"""scDSC: deep structural clustering with a ZINB autoencoder and a GCN on the cell graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from dance.core import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import Step, step

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

    from dance.nn.trainer import Batch

__all__ = ["ScDSC"]


class ScDSC(ClusteringModel):
    """scDSC (Gan, Huang, Zou, Zhou & Guan 2022, Brief Bioinform 23:bbac018).

    Three modules trained together, after the autoencoder is pretrained on the reconstruction
    (MSE) of the normalised, log-transformed, scaled expression:

    * a *ZINB autoencoder* (encoder 512-256-256, embedding layers 256-128-32 with batch norm,
      a mirrored decoder) reconstructing the input (MSE) and modelling the raw counts with ZINB
      heads;
    * a *GCN* on the kNN cell graph (``n_neighbors`` most correlated cells, symmetrised, with self
      loops, row-normalised) whose layer ``l`` reads ``(1 - sigma) Z_(l-1) + sigma H_(l-1)``,
      mixing in the autoencoder's representation ``H`` of the same depth, and ends in a softmax
      over the clusters;
    * a *dual self-supervised module*: Student's t soft assignments ``Q`` of the embedding to
      centres initialised by k-means, and the sharpened target ``P`` (recomputed every epoch)
      supervising both ``Q`` (binary cross entropy) and the GCN's softmax (KL divergence).

    Loss: ``bce_weight * BCE(Q, P) + kl_weight * KL(P || GCN) + mse_weight * MSE + zinb_weight * ZINB``
    (the paper's 0.1, 0.01, 1, 0.1), full-batch Adam (lr 1e-4). Each cell gets the cluster of
    its largest soft assignment ``Q`` (``labels_from="soft_assignment"``, as DANCE's
    reimplementation, whose reported numbers the benchmark compares against) or of the GCN's
    largest output (``labels_from="gcn"``, SDCN's and the authors' choice). On DANCE's mouse bladder
    set (seed 0) the GCN's output scored ARI 0.40 after training and ``Q`` 0.52: with the paper's
    learning rate the GCN, which starts from random weights, has not caught up with the pretrained
    autoencoder after 100 full-batch epochs.

    Deviations: the cell graph takes the cosine similarity of the scaled expression (close to the
    authors' Pearson correlation, as rows of scaled data are nearly centred) through dance's FAISS
    kNN; epochs are capped (``pretrain_epochs`` 100 as in DANCE's reproduction, ``epochs`` 100;
    the authors ran 80-300) so one run fits in 10 minutes on a 2-core CPU; unlike DANCE's
    reimplementation the autoencoder is not frozen, the centres start from k-means (DANCE leaves
    them random) and no epoch is picked by the ARI against the true labels.
    """

    name = "scdsc"
    needs_counts = True

    class Params(ModelParams):
        n_clusters: int | None = Field(None, ge=2, description="number of clusters; None: estimated by Louvain on the pretrained embedding")
        n_top_genes: int = Field(2000, ge=10, description="highly variable genes kept (cell_ranger flavour)")
        n_neighbors: int = Field(10, ge=1, description="neighbours of each cell in the cell graph (self excluded)")
        encoder_dims: tuple[int, ...] = Field((512, 256, 256), min_length=1, description="encoder widths (the decoder mirrors them)")
        latent_dims: tuple[int, ...] = Field((256, 128, 32), min_length=1, description="embedding layers; the last is the embedding")
        sigma: float = Field(0.5, ge=0, le=1, description="weight of the autoencoder representation mixed into each GCN layer")
        alpha: float = Field(1.0, gt=0, description="degrees of freedom of the Student's t soft assignment")
        pretrain_epochs: int = Field(100, ge=0, description="epochs of autoencoder pretraining (MSE, mini-batches)")
        pretrain_lr: float = Field(1e-3, gt=0, description="learning rate of pretraining (Adam)")
        pretrain_batch_size: int = Field(256, ge=2, description="mini-batch size of pretraining")
        epochs: int = Field(100, ge=0, description="full-batch training epochs")
        lr: float = Field(1e-4, gt=0, description="learning rate of training (Adam)")
        bce_weight: float = Field(0.1, ge=0, description="weight of BCE(Q, P)")
        kl_weight: float = Field(0.01, ge=0, description="weight of KL(P || GCN prediction)")
        mse_weight: float = Field(1.0, ge=0, description="weight of the reconstruction MSE")
        zinb_weight: float = Field(0.1, ge=0, description="weight of the ZINB loss")
        kmeans_n_init: int = Field(20, ge=1, description="k-means restarts for the initial centres")
        labels_from: Literal["soft_assignment", "gcn"] = Field(
            "soft_assignment",
            description="clusters from the Student's t soft assignment Q (DANCE) or the GCN's softmax (SDCN, the authors)",
        )

    quick_params = {
        "pretrain_epochs": 2,
        "epochs": 2,
        "encoder_dims": (16, 8),
        "latent_dims": (8, 4),
        "n_neighbors": 5,
        "kmeans_n_init": 2,
    }

    def build_pipeline(self) -> tuple[Step, ...]:
        p = self.params
        return (
            step("select_counts"),
            step("filter_genes", min_counts=3),
            step("normalize_total", target_sum=None),
            step("log1p"),
            step("highly_variable_genes", n_top_genes=p.n_top_genes, flavor="cell_ranger"),
            step("scale", max_value=None),
            step("knn_graph", n_neighbors=p.n_neighbors + 1, use_rep="X", metric="cosine"),
        )

    def _fit(self, data: AnnData) -> None:
        import torch
        import torch.nn.functional as F

        from dance.nn.clustering import kmeans_centres, resolve_n_clusters, target_distribution
        from dance.nn.data import encode_in_batches, expression_tensors, torch_generator
        from dance.nn.graphs import knn_adjacency, normalize_adjacency, sparse_adjacency
        from dance.nn.likelihoods import zinb_loss
        from dance.nn.trainer import OptimizerStep, Stage, Trainer
        from dance.single.clustering.scdsc_module import ScDSCNetwork

        p = self.params
        device = self.device_
        # first: the trainer seeds torch, imported just above; its generator draws the
        # pretraining minibatch orders
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed, device))
        self.notes_: dict[str, Any] = {}
        x, counts, size_factors = expression_tensors(data, self.keys, device)
        adjacency = normalize_adjacency(knn_adjacency(data.obsp["distances"], symmetric=True, self_loops=True), mode="row")
        graph = sparse_adjacency(adjacency, device)

        # the number of clusters is needed to build the GCN's last layer; when unknown it is
        # estimated after pretraining, so the autoencoder is pretrained on its own first
        n_clusters_guess = p.n_clusters or 2
        network = ScDSCNetwork(x.shape[1], n_clusters_guess, p.encoder_dims, p.latent_dims, p.sigma, p.alpha).to(device)
        ae = network.ae

        def reconstruction(batch: Batch) -> dict[str, torch.Tensor]:
            return {"mse": F.mse_loss(ae(x[batch.index], zinb=False)["x_bar"], x[batch.index])}

        # pretraining: the reconstruction MSE alone, Adam on shuffled minibatches; batch norm
        # needs two cells, so a last batch of one is skipped
        pretrain = Stage(
            "pretrain",
            epochs=p.pretrain_epochs,
            n=x.shape[0],
            batch_size=p.pretrain_batch_size,
            min_batch_size=2,
            steps=[OptimizerStep(torch.optim.Adam(ae.parameters(), lr=p.pretrain_lr), reconstruction)],
        )
        trainer.fit(pretrain, module=ae)
        ae.eval()
        z = encode_in_batches(lambda batch: ae(batch, zinb=False)["z"], x).cpu().numpy()
        n_clusters = resolve_n_clusters(self, z)
        if n_clusters != n_clusters_guess:
            pretrained = ae.state_dict()
            network = ScDSCNetwork(x.shape[1], n_clusters, p.encoder_dims, p.latent_dims, p.sigma, p.alpha).to(device)
            network.ae.load_state_dict(pretrained)
        centres, _ = kmeans_centres(z, n_clusters, seed=self.seed, n_init=p.kmeans_n_init)
        network.centres.data.copy_(torch.from_numpy(centres).to(device))

        def joint(batch: Batch) -> dict[str, torch.Tensor]:
            # full batch, so batch norm sees every cell; the target is recomputed every epoch from
            # the current soft assignments (authors' code)
            out = network(x, graph)
            target = target_distribution(out["q"])
            mean, disp, pi = out["zinb"]
            parts = {
                "bce": F.binary_cross_entropy(out["q"], target),
                "kl": F.kl_div(torch.log(out["predict"] + 1e-10), target, reduction="batchmean"),
                "mse": F.mse_loss(out["x_bar"], x),
                "zinb": zinb_loss(counts, mean, disp, pi, scale_factor=size_factors),
            }
            loss = p.bce_weight * parts["bce"] + p.kl_weight * parts["kl"] + p.mse_weight * parts["mse"] + p.zinb_weight * parts["zinb"]
            return {"loss": loss, **parts}

        # one step per epoch: "steps" keeps each recorded term exactly the step's value
        train = Stage(
            "train",
            epochs=p.epochs,
            n=x.shape[0],
            batch_size=None,
            average="steps",
            steps=[OptimizerStep(torch.optim.Adam(network.parameters(), lr=p.lr), joint)],
        )
        last = trainer.fit(train, module=network).final
        self.training_history_ = trainer.history

        with torch.no_grad():  # full-batch statistics, as during training
            out = network(x, graph)
        network.eval()
        self.module_ = network
        self.labels_ = (out["q"] if p.labels_from == "soft_assignment" else out["predict"]).argmax(dim=1).cpu().numpy()
        self.embedding_ = out["z"].cpu().numpy()
        self.notes_.update(
            epochs=p.epochs,
            graph_edges=int(adjacency.nnz),
            **{f"final_{k}_loss": round(last[k], 4) for k in ("bce", "kl", "mse", "zinb") if k in last},
            n_clusters_found=len(np.unique(self.labels_)),
            labels_from=p.labels_from,
        )

    def _predict(self, data: AnnData) -> np.ndarray:
        return self.labels_
