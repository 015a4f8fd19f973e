"""scDeepCluster: deep embedded clustering with a denoising ZINB autoencoder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from dance.core import ModelParams
from dance.core.errors import DanceInputError
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import Step, step

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

    from dance.nn.trainer import Batch, Stage, Trainer

__all__ = ["ScDeepCluster"]


class ScDeepCluster(ClusteringModel):
    """scDeepCluster (Tian, Wan, Song & Wei 2019, Nat Mach Intell 1:191-198).

    A denoising autoencoder with a zero-inflated negative binomial (ZINB) decoder learns an
    embedding of the cells: Gaussian noise (sd ``noise_sd``) is added to the normalised,
    log-transformed, scaled expression, the decoder's mean / dispersion / dropout heads model the
    raw counts (the mean times each cell's size factor) and the encoder of the clean input gives
    the embedding. After pretraining on the ZINB likelihood alone, cluster centres are initialised
    by k-means on the embedding and refined by deep embedded clustering (DEC): a Student's t soft
    assignment ``Q``, a sharpened target ``P`` recomputed every ``update_interval`` epochs, and the
    loss ``gamma * KL(P || Q) + ZINB`` optimised with Adadelta. Training stops when fewer than a
    fraction ``tol`` of the cells change cluster between two target updates, or after
    ``max_epochs``; each cell gets the cluster of its largest soft assignment.

    Defaults are the paper's (encoder 256-64, embedding 32, noise sd 2.5, Adam with AMSGrad
    lr 1e-3 for pretraining, Adadelta lr 1.0 / rho 0.95, batch 256, gamma 1, tol 0.001) except
    the number of epochs, which is capped so one run fits in 10 minutes on a 2-core CPU: 50
    pretraining epochs (the paper: 300; DANCE's reproduction of 10x PBMC: 50) and at most 100
    clustering epochs (the paper: 2000, usually stopped earlier by ``tol``).

    Unlike DANCE's reimplementation, the clustering epoch is not chosen by the ARI against the
    true labels: the model returns the assignment at convergence, so its numbers are honest
    unsupervised results. With ``n_clusters`` unset the number of clusters is estimated from the
    pretrained embedding by Louvain (20 neighbours, resolution 0.8), as the authors' code does.
    """

    name = "scdeepcluster"
    needs_counts = True
    #: the encoder and the cluster centres apply to any cells measured on the same genes, so a
    #: fitted model predicts new cells too (and can be saved: ``dance run --save-model``)
    transductive = False

    class Params(ModelParams):
        n_clusters: int | None = Field(None, ge=2, description="number of clusters; None: estimated by Louvain on the pretrained embedding")
        encoder_dims: tuple[int, ...] = Field((256, 64), min_length=1, description="encoder hidden widths (the decoder mirrors them)")
        latent_dim: int = Field(32, ge=2, description="width of the embedding")
        noise_sd: float = Field(2.5, ge=0, description="standard deviation of the Gaussian input noise (denoising)")
        pretrain_epochs: int = Field(50, ge=0, description="epochs of ZINB pretraining (paper: 300)")
        pretrain_lr: float = Field(1e-3, gt=0, description="learning rate of pretraining (Adam, AMSGrad)")
        batch_size: int = Field(256, ge=2, description="mini-batch size")
        max_epochs: int = Field(100, ge=0, description="maximum epochs of the clustering stage (paper: 2000)")
        lr: float = Field(1.0, gt=0, description="learning rate of the clustering stage (Adadelta, rho 0.95)")
        gamma: float = Field(1.0, ge=0, description="weight of the clustering (KL) loss")
        alpha: float = Field(1.0, gt=0, description="degrees of freedom of the Student's t soft assignment")
        update_interval: int = Field(1, ge=1, description="epochs between updates of the target distribution")
        tol: float = Field(1e-3, ge=0, description="stop when fewer than this fraction of cells change cluster between updates")
        kmeans_n_init: int = Field(20, ge=1, description="k-means restarts for the initial centres")

    quick_params = {"pretrain_epochs": 2, "max_epochs": 2, "encoder_dims": (16,), "latent_dim": 4, "kmeans_n_init": 2}

    def build_pipeline(self) -> tuple[Step, ...]:
        # the authors' preprocessing: raw counts kept for the likelihood, library sizes normalised
        # to the median, log1p, genes standardised (no clipping)
        return (
            step("select_counts"),
            step("filter_genes", min_cells=1),
            step("normalize_total", target_sum=None),
            step("log1p"),
            step("scale", max_value=None),
        )

    # ------------------------------------------------------------------ training
    def _fit(self, data: AnnData) -> None:
        import torch

        from dance.nn.clustering import kmeans_centres, resolve_n_clusters, soft_assignment
        from dance.nn.data import encode_in_batches, expression_tensors, torch_generator
        from dance.nn.trainer import OptimizerStep, Stage, Trainer
        from dance.single.clustering.scdeepcluster_module import DenoisingZINBAutoencoder

        p = self.params
        device = self.device_
        # first: the trainer seeds torch, imported just above, so the network's initial weights
        # are the same in the first fit of a process as in every later one. Its generator draws
        # the pretraining minibatch orders and all input noise, in the order they are needed.
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed, device))
        generator = trainer.generator
        self.notes_: dict[str, Any] = {}
        # drawn before training (from their own seeded generator), so a bad source fails at once
        constraints = self._constraints(data)
        x, counts, size_factors = expression_tensors(data, self.keys, device)
        module = self.module_ = DenoisingZINBAutoencoder(x.shape[1], p.encoder_dims, p.latent_dim, p.noise_sd).to(device)

        def reconstruction(batch: Batch) -> dict[str, torch.Tensor]:
            index = batch.index
            return {"zinb": module.reconstruction_loss(x[index], counts[index], size_factors[index], generator)}

        # pretraining: the ZINB likelihood alone, Adam with AMSGrad on shuffled minibatches
        pretrain = Stage(
            "pretrain",
            epochs=p.pretrain_epochs,
            n=x.shape[0],
            batch_size=p.batch_size,
            steps=[OptimizerStep(torch.optim.Adam(module.parameters(), lr=p.pretrain_lr, amsgrad=True), reconstruction)],
        )
        pretrain_loss = trainer.fit(pretrain, module=module).final.get("zinb", float("nan"))
        module.eval()
        z = encode_in_batches(module.encode, x).cpu().numpy()
        n_clusters = resolve_n_clusters(self, z)
        centres, labels = kmeans_centres(z, n_clusters, seed=self.seed, n_init=p.kmeans_n_init)
        self.centres_ = torch.nn.Parameter(torch.from_numpy(centres).to(device))

        epochs_run, converged, loss = self._cluster(trainer, x, counts, size_factors, labels, constraints)
        self.training_history_ = trainer.history
        module.eval()
        with torch.no_grad():
            self.embedding_ = encode_in_batches(module.encode, x)
            q = soft_assignment(self.embedding_, self.centres_, p.alpha)
        self.labels_ = q.argmax(dim=1).cpu().numpy()
        self.embedding_ = self.embedding_.cpu().numpy()
        self.genes_ = [str(g) for g in data.var_names]  # what the encoder reads, after the pipeline's gene filter
        self.notes_.update(
            pretrain_zinb_loss=round(pretrain_loss, 4) if np.isfinite(pretrain_loss) else None,
            clustering_epochs=epochs_run,
            converged=converged,
            final_loss=round(loss, 4) if np.isfinite(loss) else None,
            n_clusters_found=len(np.unique(self.labels_)),
        )

    def _cluster(
        self,
        trainer: Trainer,
        x: torch.Tensor,
        counts: torch.Tensor,
        size_factors: torch.Tensor,
        labels: np.ndarray,
        constraints: Any,
    ) -> tuple[int, bool, float]:
        """DEC refinement (the authors' loop: sequential minibatches, Adadelta); returns
        ``(epochs run, converged, last epoch's mean loss)``.

        Every ``update_interval`` epochs, before the epoch, the target ``P`` is recomputed from all
        cells and the stage stops if fewer than a fraction ``tol`` of the cells changed cluster
        since the last update. After every epoch the stages of :meth:`_constraint_stages` (none
        here; scDCC's pairwise constraints) make one pass each with the same optimiser; their mean
        terms are recorded in the clustering stage's history as ``<stage>_<term>``.
        """
        import torch

        from dance.nn.clustering import changed_fraction, kl_clustering_loss, soft_assignment, target_distribution
        from dance.nn.data import encode_in_batches
        from dance.nn.likelihoods import zinb_loss
        from dance.nn.trainer import OptimizerStep, Stage

        p = self.params
        module, centres, generator = self.module_, self.centres_, trainer.generator
        optimizer = torch.optim.Adadelta([*module.parameters(), centres], lr=p.lr, rho=0.95)
        state: dict[str, Any] = {"previous": labels, "target": None, "converged": False}

        def update_target(epoch: int) -> bool:
            if epoch % p.update_interval:
                return False
            module.eval()
            with torch.no_grad():
                q_all = soft_assignment(encode_in_batches(module.encode, x), centres, p.alpha)
            current = q_all.argmax(dim=1).cpu().numpy()
            # the authors test convergence at a target update, never before the first epoch
            if epoch > 0 and changed_fraction(state["previous"], current) < p.tol:
                state["converged"] = True
                return True
            state.update(previous=current, target=target_distribution(q_all))
            return False

        def clustering(batch: Batch) -> dict[str, torch.Tensor]:
            index = batch.index  # a slice: the authors' minibatches are consecutive cells, unshuffled
            z, mean, disp, pi = module(x[index], generator)
            kl = kl_clustering_loss(state["target"][index], soft_assignment(z, centres, p.alpha))
            zinb = zinb_loss(counts[index], mean, disp, pi, scale_factor=size_factors[index])
            return {"loss": p.gamma * kl + zinb, "kl": kl, "zinb": zinb}

        extra = self._constraint_stages(constraints, x, counts, size_factors, optimizer, generator)

        def constraint_passes(epoch: int, terms: dict[str, float]) -> bool:
            for stage in extra:
                # one pass each; its mean terms join the clustering epoch's, prefixed by the stage
                for key, value in trainer.run_epoch(stage, epoch, module=module).items():
                    trainer.record(f"{stage.name}_{key}", value)
            return False

        stage = Stage(
            "cluster",
            epochs=p.max_epochs,
            n=x.shape[0],
            batch_size=p.batch_size,
            shuffle=False,
            steps=[OptimizerStep(optimizer, clustering)],
        )
        result = trainer.fit(stage, module=module, on_epoch_start=update_target, on_epoch_end=constraint_passes if extra else None)
        return result.epochs, bool(state["converged"]), result.final.get("loss", float("nan"))

    # ------------------------------------------------------------------ hooks (scDCC adds pairwise constraints)
    def _constraints(self, data: AnnData) -> Any:
        """Side information for the clustering stage; scDeepCluster uses none."""
        return None

    def _constraint_stages(
        self,
        constraints: Any,
        x: torch.Tensor,
        counts: torch.Tensor,
        size_factors: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
    ) -> list[Stage]:
        """Stages run for one pass each after every clustering epoch, with the clustering
        optimiser; scDeepCluster has none."""
        return []

    def _predict(self, data: AnnData) -> np.ndarray:
        """Each cell's cluster: the largest soft assignment of its encoding to the centres (for the
        cells the model was fitted on, exactly the assignment training ended with)."""
        import torch

        from dance.nn.clustering import soft_assignment
        from dance.nn.data import dense_tensor, encode_in_batches

        present = set(map(str, data.var_names))
        missing = [g for g in self.genes_ if g not in present]
        if missing:
            raise DanceInputError(
                f"after preprocessing, the data lack {len(missing)} of the {len(self.genes_)} genes the encoder reads "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): genes without any count are dropped by the "
                "pipeline's gene filter; the new cells must express them",
                field="X",
            )
        x = dense_tensor(data[:, self.genes_].X, self.device_)
        self.module_.eval()
        with torch.no_grad():
            embedding = encode_in_batches(self.module_.encode, x)
            labels = soft_assignment(embedding, self.centres_, self.params.alpha).argmax(dim=1).cpu().numpy()
        self.embedding_ = embedding.cpu().numpy()
        return labels

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The genes the encoder reads, the autoencoder's weights and the cluster centres."""
        from dance.nn.persistence import module_arrays

        arrays = {**module_arrays(self.module_, "autoencoder"), "centres": self.centres_.detach().cpu().numpy()}
        return {"genes": list(self.genes_), "n_clusters": int(self.centres_.shape[0])}, arrays

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        import torch

        from dance.nn.persistence import load_module_arrays
        from dance.single.clustering.scdeepcluster_module import DenoisingZINBAutoencoder

        p = self.params
        self.genes_ = list(values["genes"])
        module = DenoisingZINBAutoencoder(len(self.genes_), p.encoder_dims, p.latent_dim, p.noise_sd)
        self.module_ = load_module_arrays(module, arrays, "autoencoder").to(self.device_).eval()
        self.centres_ = torch.nn.Parameter(torch.as_tensor(np.array(arrays["centres"])).to(self.device_))
