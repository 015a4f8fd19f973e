"""scDeepCluster: deep embedded clustering with a denoising ZINB autoencoder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from dance.core import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import Step, step

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

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

        from dance.core.seeding import seed_everything
        from dance.nn.clustering import kmeans_centres, resolve_n_clusters, soft_assignment
        from dance.nn.data import expression_tensors, torch_generator
        from dance.single.nn.autoencoder import DenoisingZINBAutoencoder, encode_in_batches, pretrain_zinb_autoencoder

        seed_everything(self.seed)  # again now that torch is imported: fit() seeds torch only when it already is

        p = self.params
        self.notes_: dict[str, Any] = {}
        device = self.device_
        x, counts, size_factors = expression_tensors(data, self.keys, device)
        generator = torch_generator(self.seed, device)
        self.module_ = DenoisingZINBAutoencoder(x.shape[1], p.encoder_dims, p.latent_dim, p.noise_sd).to(device)

        pretrain_loss = pretrain_zinb_autoencoder(
            self.module_,
            x,
            counts,
            size_factors,
            epochs=p.pretrain_epochs,
            batch_size=p.batch_size,
            lr=p.pretrain_lr,
            generator=generator,
            desc=f"{self.name} pretraining",
        )
        self.module_.eval()
        z = encode_in_batches(self.module_.encode, x).cpu().numpy()
        n_clusters = resolve_n_clusters(self, z)
        constraints = self._constraints(data, n_clusters)
        centres, labels = kmeans_centres(z, n_clusters, seed=self.seed, n_init=p.kmeans_n_init)
        self.centres_ = torch.nn.Parameter(torch.from_numpy(centres).to(device))

        epochs_run, converged, loss = self._cluster(x, counts, size_factors, labels, constraints, generator)
        self.module_.eval()
        with torch.no_grad():
            self.embedding_ = encode_in_batches(self.module_.encode, x)
            q = soft_assignment(self.embedding_, self.centres_, p.alpha)
        self.labels_ = q.argmax(dim=1).cpu().numpy()
        self.embedding_ = self.embedding_.cpu().numpy()
        self.notes_.update(
            pretrain_zinb_loss=round(pretrain_loss, 4) if np.isfinite(pretrain_loss) else None,
            clustering_epochs=epochs_run,
            converged=converged,
            final_loss=round(loss, 4) if np.isfinite(loss) else None,
            n_clusters_found=len(np.unique(self.labels_)),
        )

    def _cluster(
        self,
        x: torch.Tensor,
        counts: torch.Tensor,
        size_factors: torch.Tensor,
        labels: np.ndarray,
        constraints: Any,
        generator: torch.Generator,
    ) -> tuple[int, bool, float]:
        """DEC refinement (the authors' loop: sequential mini-batches, Adadelta); returns
        ``(epochs run, converged, last epoch's mean loss)``."""
        import torch
        from tqdm.auto import tqdm

        from dance.nn.clustering import changed_fraction, kl_clustering_loss, soft_assignment, target_distribution
        from dance.nn.likelihoods import zinb_loss
        from dance.single.nn.autoencoder import encode_in_batches

        p = self.params
        module, centres = self.module_, self.centres_
        optimizer = torch.optim.Adadelta([*module.parameters(), centres], lr=p.lr, rho=0.95)
        previous = labels
        n = x.shape[0]
        epochs_run, converged, last = 0, False, float("nan")
        for epoch in tqdm(range(p.max_epochs), desc=f"{self.name} clustering", disable=None, leave=False):
            if epoch % p.update_interval == 0:
                module.eval()
                with torch.no_grad():
                    q_all = soft_assignment(encode_in_batches(module.encode, x), centres, p.alpha)
                target = target_distribution(q_all)
                current = q_all.argmax(dim=1).cpu().numpy()
                if epoch > 0 and changed_fraction(previous, current) < p.tol:
                    converged = True
                    break
                previous = current
            module.train()
            total = 0.0
            for start in range(0, n, p.batch_size):
                index = slice(start, start + p.batch_size)
                z, mean, disp, pi = module(x[index], generator)
                q = soft_assignment(z, centres, p.alpha)
                loss = p.gamma * kl_clustering_loss(target[index], q) + zinb_loss(
                    counts[index], mean, disp, pi, scale_factor=size_factors[index]
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * z.shape[0]
            last = total / n
            self._constraint_epoch(constraints, x, counts, size_factors, optimizer, generator)
            epochs_run = epoch + 1
        return epochs_run, converged, last

    # ------------------------------------------------------------------ hooks (scDCC adds pairwise constraints)
    def _constraints(self, data: AnnData, n_clusters: int) -> Any:
        """Side information for the clustering stage; scDeepCluster uses none."""
        return None

    def _constraint_epoch(
        self,
        constraints: Any,
        x: torch.Tensor,
        counts: torch.Tensor,
        size_factors: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
    ) -> None:
        """Extra updates after each clustering epoch; scDeepCluster makes none."""

    def _predict(self, data: AnnData) -> np.ndarray:
        return self.labels_
