"""GLUE: unpaired RNA and ATAC integration through a guidance graph of gene-peak links."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.multiomics_integration import MultiomicsIntegrationModel


def scglue_lsi(counts: Any, n_components: int, seed: int) -> np.ndarray:
    """scglue's ``lsi`` (``scglue.data.lsi``, the tutorial's 100 components, ``n_iter=15``) of
    ``counts`` (:class:`~dance.multi.multiomics_integration.glue_representations.PeakLSI`)."""
    from dance.multi.multiomics_integration.glue_representations import PeakLSI

    return PeakLSI(n_components, seed).fit_transform(counts)


def scglue_pca(counts: Any, n_components: int, seed: int) -> np.ndarray:
    """The tutorial's RNA representation: ``normalize_total``, ``log1p``, ``scale`` (clipped at 10),
    PCA (:class:`~dance.multi.multiomics_integration.glue_representations.ExpressionPCA`)."""
    from dance.multi.multiomics_integration.glue_representations import ExpressionPCA

    return ExpressionPCA(n_components, seed).fit_transform(counts)


def balancing_weights(
    embeddings: list[np.ndarray], *, resolution: float = 1.0, cutoff: float = 0.5, power: float = 4.0, seed: int = 0
) -> list[np.ndarray]:
    """scglue's ``estimate_balancing_weight``: Leiden clusters of each modality's cells (cosine
    kNN graph), clusters of one modality weighted by how similar (cosine of centroids, below
    ``cutoff`` set to 0, to the ``power``) they are to the other modality's clusters, divided by
    their size; per cell, normalised to mean 1. The discriminator weighs cells by them, so cell
    types present in one modality only are not forced onto the other."""
    from dance.core.community import communities
    from dance.core.neighbors import knn_graph_matrices

    labels, centroids = [], []
    for embedding in embeddings:
        # cosine neighbours as scglue (sc.pp.neighbors(metric="cosine")): euclidean on unit vectors ranks alike
        unit = embedding / np.clip(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12, None)
        _, connectivities = knn_graph_matrices(unit.astype(np.float32), 15, seed=seed)
        codes = np.unique(communities(connectivities, method="leiden", resolution=resolution, seed=seed), return_inverse=True)[1]
        labels.append(codes)
        means = np.vstack([embedding[codes == c].mean(axis=0) for c in range(codes.max() + 1)])
        centroids.append(means / np.clip(np.linalg.norm(means, axis=1, keepdims=True), 1e-12, None))
    weights = []
    for i, codes in enumerate(labels):
        others = [c for j, c in enumerate(centroids) if j != i]
        similarity = np.hstack([centroids[i] @ other.T for other in others])
        similarity = np.where(similarity < cutoff, 0.0, similarity) ** power
        sizes = np.bincount(codes)
        per_cluster = similarity.sum(axis=1) / sizes
        cell = per_cluster[codes]
        weights.append((cell / cell.mean() if cell.mean() > 0 else np.ones_like(cell)).astype(np.float32))
    return weights


class GLUE(MultiomicsIntegrationModel):
    """GLUE (Cao & Gao 2022, "Multi-omics single-cell data integration and regulatory inference
    with graph-linked embedding", Nat Biotechnol 40:1458), as scglue 0.4.1 builds and trains it.

    Data: the 2,000 most variable genes (Seurat v3 on counts) and the peaks they reach in the
    guidance graph (:func:`dance.multi.guidance_graph.guidance_graph`: gene body + 2 kb promoter
    overlaps, in the peaks' genome build); encoders read 100 PCA components of the expression and
    100 LSI components of the peaks (scglue's tutorial); decoders model both modalities' counts with
    negative binomials (:mod:`~dance.multi.multiomics_integration.glue_module`), with the batch as
    a decoder covariate when ``obs[batch_key]`` is present.

    Training (scglue's ``fit_SCGLUE``): an epoch runs over the rows of every modality's cells one
    after the other (scglue's union of cells: 20,618 rows for SNARE-seq's two modalities of 10,309),
    a row giving each modality one cell (its own, or another modality's row filled by cycling
    through this modality's cells); per minibatch of 128 rows a discriminator step (RMSprop, lr 2e-3, on ``lam_align x`` the weighted
    cross-entropy of the modality from the cells' latent means) and a VAE step (RMSprop, lr 2e-3, on
    the negative ELBOs of both modalities + ``lam_graph x`` the graph's (positive edges drawn by
    weight, 10 negatives each drawn by degree) minus ``lam_align x`` the discriminator loss); the
    number of epochs, the alignment burn-in (noise on the discriminator's input, fading out), the
    learning-rate patience and the early-stopping patience follow scglue's AUTO rules from the
    minibatches per epoch; early stopping on a seeded 10 % of the cells, only after the burn-in and
    a first learning-rate reduction, best weights kept. Two stages: pretraining (the
    discriminator's input always noised), balancing weights from Leiden clusters of the pretrained
    embedding, then fine-tuning from the pretrained weights with the discriminator weighing cells
    by them.

    Deviations: early stopping keeps the best validation epoch over the whole stage (scglue only
    after its burn-in). As in scglue, a validation row's filler cells may be another row's own
    cells in training.
    """

    name = "glue"
    needs_counts = True

    class Params(ModelParams):
        annotation: str | None = Field(
            None,
            description="gene coordinates in the peaks' build: GRCh38, GRCm39, mm10 or a GTF / GFF3 / BED / table; None: uns['genome']",
        )
        n_top_genes: int = Field(2000, ge=10, description="most variable genes (Seurat v3 on counts; scglue's tutorial: 2,000)")
        n_components: int = Field(100, ge=2, description="PCA / LSI components the encoders read (tutorial: 100)")
        latent: int = Field(50, ge=2, description="latent dimensions (scglue: 50)")
        hidden: int = Field(256, ge=4, description="hidden units (scglue: 256)")
        depth: int = Field(2, ge=1, description="hidden layers (scglue: 2)")
        dropout: float = Field(0.2, ge=0, lt=1, description="dropout (scglue: 0.2)")
        lam_kl: float = Field(1.0, ge=0, description="weight of the KL terms")
        lam_graph: float = Field(0.02, ge=0, description="weight of the graph ELBO")
        lam_align: float = Field(0.05, ge=0, description="weight of the adversarial alignment")
        learning_rate: float = Field(2e-3, gt=0, description="RMSprop learning rate (scglue: 2e-3)")
        batch_size: int = Field(128, ge=8, description="cells of each modality per step (scglue: 128)")
        neg_samples: int = Field(10, ge=1, description="negative edges per positive edge")
        validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="cells held out for early stopping (scglue: 0.1)")
        max_epochs: int | None = Field(None, ge=1, description="most epochs of each stage; None: scglue's AUTO rule")
        align_burnin: int | None = Field(
            None, ge=1, description="fine-tuning epochs over which the discriminator's input noise fades out; None: scglue's AUTO rule"
        )
        patience: int | None = Field(None, ge=1, description="early-stopping patience in epochs; None: scglue's AUTO rule")
        reduce_lr_patience: int | None = Field(
            None, ge=1, description="epochs without improvement before the learning rate drops tenfold; None: scglue's AUTO rule"
        )
        promoter: int = Field(2000, ge=0, description="bases upstream of each gene linked to its peaks")
        balance_resolution: float = Field(1.0, gt=0, description="Leiden resolution of the balancing weights")
        balance_cutoff: float = Field(0.5, ge=0, le=1, description="cluster cosine similarity below which clusters do not balance")
        balance_power: float = Field(4.0, gt=0, description="power of the cluster similarities")

    quick_params = {"max_epochs": 2, "n_components": 8, "latent": 4, "hidden": 16, "batch_size": 16, "n_top_genes": 50}

    def _fit(self, data: Any) -> None:
        from dance.multi.genomes import genome_of

        self._fit_layers([data.mod1, data.mod2], ("mod1", "mod2"), signs=None, genome=genome_of(data))

    def _predict(self, data: Any) -> Any:
        return tuple(self._embed([data.mod1, data.mod2]))

    # ------------------------------------------------------------ two or more layers
    def fit_layers(self, rna: Any, *others: Any, signs: Any = None) -> GLUE:
        """Integrate an expression layer with one or more other layers (e.g. RNA, ATAC and DNA
        methylation: GLUE's triple-omics integration), each of its own cells.

        Parameters
        ----------
        rna
            Expression counts (``layers['counts']`` or integer ``X``); its genes anchor the graph.
        *others
            Layers whose features are genomic intervals (``var`` columns or names such as
            ``chr1:100-200``), with counts; each is encoded from its LSI and decoded with a
            negative binomial.
        signs
            +1 or -1 per other layer (-1 where more signal means less expression, as gene-body
            methylation); default +1.

        Returns
        -------
        GLUE
            ``self``, fitted: :meth:`embed_layers` embeds cells of every layer.
        """
        from dance.core.seeding import seed_everything

        if not others:
            raise DanceInputError("GLUE integrates two or more layers; got only the expression layer", field="others")
        layers = [rna, *others]
        roles = ("rna", *(f"layer {k + 2}" for k in range(len(others))))
        self.input_features_ = {role: tuple(map(str, adata.var_names)) for role, adata in zip(roles, layers, strict=True)}
        genome = next((a.uns["genome"] for a in reversed(layers) if isinstance(a.uns.get("genome"), str) and a.uns["genome"]), None)
        seed_everything(self.seed)
        self._fit_layers(layers, roles, signs=signs, genome=genome)
        self.fitted_ = True
        return self

    def embed_layers(self, rna: Any, *others: Any) -> list[np.ndarray]:
        """Cells of each layer (as :meth:`fit_layers` received them, any cells) in the shared space."""
        self._check_fitted()
        layers = [rna, *others]
        if len(layers) != len(self.representations_):
            raise DanceInputError(f"this GLUE model integrates {len(self.representations_)} layers; got {len(layers)}", field="layers")
        return self._embed(layers)

    def _fit_layers(self, layers: list[Any], roles: tuple[str, ...], *, signs: Any, genome: str | None) -> None:
        from dance.core.validation import counts_matrix
        from dance.multi.features import most_variable_counts
        from dance.multi.guidance_graph import guidance_graph
        from dance.multi.multiomics_integration.glue_representations import ExpressionPCA, PeakLSI

        p = self.params
        counts = [sp.csr_matrix(counts_matrix(a, self.keys, role=r), dtype=np.float32) for a, r in zip(layers, roles, strict=True)]
        genes = most_variable_counts(counts[0], p.n_top_genes, role=roles[0])
        annotation = p.annotation or genome or "GRCh38"  # as the gene-activity baseline
        # every gene first, so that the build check counts the features any gene reaches
        full = guidance_graph(*layers, annotation=annotation, promoter=p.promoter, signs=signs)
        reached = full.reachable_from(layers[0].var_names[genes])
        offsets = np.cumsum([0, *(a.n_vars for a in layers)])
        kept = [genes, *(np.flatnonzero(reached[offsets[k] : offsets[k + 1]]) for k in range(1, len(layers)))]
        for k in range(1, len(layers)):
            if kept[k].size == 0:
                where = "mod2" if roles[k] == "mod2" else roles[k]
                raise DanceInputError(
                    f"no feature of {where} lies on or near a highly variable gene of {roles[0]}; check the annotation's build",
                    field="annotation",
                )
        graph = guidance_graph(
            *(a[:, index] for a, index in zip(layers, kept, strict=True)), annotation=annotation, promoter=p.promoter, signs=signs
        )
        used = [c[:, index] for c, index in zip(counts, kept, strict=True)]
        # the expression is represented by its variable genes, the other layers by all their features (scglue's tutorial)
        self.representations_ = [ExpressionPCA(p.n_components, self.seed)] + [PeakLSI(p.n_components, self.seed) for _ in layers[1:]]
        self.representation_features_ = [[str(g) for g in layers[0].var_names[genes]]] + [list(map(str, a.var_names)) for a in layers[1:]]
        inputs = [self.representations_[0].fit_transform(used[0])] + [
            r.fit_transform(c) for r, c in zip(self.representations_[1:], counts[1:], strict=True)
        ]
        batches = [self._batch_codes(a) for a in layers]
        self.genes_ = self.representation_features_[0]
        self.graph_ = graph
        self.features_ = list(graph.features)
        self.embeddings_, self.feature_embeddings_, notes = _train(self, graph, used, inputs, batches)
        self.consistency_ = _consistency(self.embeddings_, used, graph, self.seed)
        self.notes_ = {
            "glue_integration_consistency": {
                int(n): round(float(c), 4) for n, c in zip(self.consistency_["n_meta"], self.consistency_["consistency"], strict=True)
            },
            "glue_consistency_reading": _consistency_reading(self.consistency_),
            "glue_genes": len(genes),
            "glue_peaks": int(sum(index.size for index in kept[1:])),
            "glue_graph_edges": int((graph.kind == "fwd").sum()),
            "glue_annotation": str(annotation),
            **notes,
        }

    def _embed(self, layers: list[Any]) -> list[np.ndarray]:
        """Each layer's cells through its representation and encoder (latent means)."""
        import torch

        from dance.core.validation import counts_matrix
        from dance.nn.data import predict_in_batches

        embedded = []
        self.module_.eval()
        for k, (adata, names, representation) in enumerate(zip(layers, self.representation_features_, self.representations_, strict=True)):
            index = adata.var_names.get_indexer(names)
            if (index < 0).any():
                missing = [n for n, i in zip(names, index, strict=True) if i < 0]
                raise DanceInputError(
                    f"layer {k + 1} lacks {len(missing)} feature(s) the model was fitted on (e.g. {', '.join(missing[:5])})",
                    field="var_names",
                )
            counts = sp.csr_matrix(counts_matrix(adata, self.keys, role=f"mod{k + 1}"), dtype=np.float32)[:, index]
            x = torch.as_tensor(representation.transform(counts), device=self.device_)
            with torch.no_grad():
                encoded = predict_in_batches(lambda rows, k=k, x=x: self.module_.encoders[k](x[rows]).mean, x.shape[0])
            embedded.append(encoded.cpu().numpy())
        return embedded

    def _batch_codes(self, adata: Any) -> np.ndarray:
        key = self.keys.batch_key
        if key and key in adata.obs.columns:
            return np.unique(adata.obs[key].astype(str).to_numpy(), return_inverse=True)[1].astype(np.int64)
        return np.zeros(adata.n_obs, dtype=np.int64)

    def feature_embeddings_frame(self) -> Any:
        """The feature embeddings (the graph encoder's means) of the genes and peaks GLUE used,
        indexed by feature name; ``dance run`` writes them as ``varm['X_glue']`` (NaN for the
        features it left out)."""
        import pandas as pd

        return pd.DataFrame(self.feature_embeddings_, index=self.features_)

    def write_model_outputs(self, folder: Any, *, plots: bool = True) -> dict[str, Any]:
        """``regulatory.csv`` (every gene-peak link of the guidance graph scored by the cosine of
        the two features' embeddings against a permutation null, scglue's
        ``regulatory_inference``: gene, peak, distance, score, pval, qval), ``consistency.csv`` and,
        with plots, ``consistency.png`` (the integration consistency by number of metacells,
        GLUE's 0.05 line). A loaded model writes the regulatory table only (the consistency
        needs the training cells)."""
        from pathlib import Path

        from dance.multi.regulatory import regulatory_inference

        folder = Path(folder)
        written = {}
        regulatory = regulatory_inference(self.graph_, self.feature_embeddings_, seed=self.seed)
        regulatory.to_csv(folder / "regulatory.csv", index=False)
        written["regulatory"] = folder / "regulatory.csv"
        consistency = getattr(self, "consistency_", None)
        if consistency is not None:
            consistency.to_csv(folder / "consistency.csv", index=False)
            written["consistency"] = folder / "consistency.csv"
            if plots and len(consistency):
                written["consistency_plot"] = _plot_consistency(consistency, folder / "consistency.png")
        return written

    # ------------------------------------------------------------ saving
    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The representations' fitted projections, the networks' weights, the guidance graph and
        the feature embeddings (for ``varm`` and the regulatory table of a loaded model)."""
        from dance.nn.persistence import module_arrays

        g = self.graph_
        values = {
            "representations": [r.kind for r in self.representations_],
            "representation_features": self.representation_features_,
            "features": self.features_,
            "feature_slices": [[s.start, s.stop] for s in self.module_.feature_slices],
            "n_batches": [int(d.scale.shape[0]) for d in self.module_.decoders],
            "widths": [int(e.net[0].in_features) for e in self.module_.encoders],
            "graph_report": list(g.report),
            "notes": self.notes_,
        }
        arrays = {
            **module_arrays(self.module_, "glue"),
            **{k: v for i, r in enumerate(self.representations_) for k, v in r.arrays(f"representation{i}").items()},
            "feature_embeddings": np.asarray(self.feature_embeddings_),
            **{f"graph.{name}": np.asarray(getattr(g, name)) for name in ("modality", "source", "target", "weight", "sign", "distance")},
            "graph.kind": np.array([EDGE_KINDS.index(str(k)) for k in g.kind], dtype=np.int8),
        }
        return values, arrays

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        from dance.multi.guidance_graph import GuidanceGraph
        from dance.multi.multiomics_integration.glue_module import GLUEModule
        from dance.multi.multiomics_integration.glue_representations import representation_for
        from dance.nn.persistence import load_module_arrays

        p = self.params
        self.representations_ = [
            type(representation_for(kind, p.n_components, self.seed)).from_arrays(arrays, f"representation{i}", self.seed)
            for i, kind in enumerate(values["representations"])
        ]
        self.representation_features_ = [[str(n) for n in names] for names in values["representation_features"]]
        self.genes_ = self.representation_features_[0]
        self.features_ = [str(n) for n in values["features"]]
        self.feature_embeddings_ = np.asarray(arrays["feature_embeddings"])
        self.graph_ = GuidanceGraph(
            features=self.features_,
            **{name: np.asarray(arrays[f"graph.{name}"]) for name in ("modality", "source", "target", "weight", "sign", "distance")},
            kind=np.asarray(EDGE_KINDS, dtype=object)[np.asarray(arrays["graph.kind"])],
            report=list(values["graph_report"]),
        )
        self.notes_ = dict(values["notes"])
        self.consistency_ = None
        module = GLUEModule(
            values["widths"],
            [slice(a, b) for a, b in values["feature_slices"]],
            len(self.features_),
            values["n_batches"],
            latent=p.latent,
            hidden=p.hidden,
            depth=p.depth,
            dropout=p.dropout,
        )
        self.module_ = load_module_arrays(module, arrays, "glue").to(self.device_).eval()


#: the guidance graph's edge kinds, saved as their codes
EDGE_KINDS = ("fwd", "rev", "loop")


def _consistency(embeddings: Any, counts: list[Any], graph: Any, seed: int) -> Any:
    """The integration consistency curve (:func:`dance.multi.consistency.integration_consistency`)
    of the trained embedding."""
    from dance.multi.consistency import integration_consistency

    return integration_consistency(list(embeddings), counts, graph, seed=seed)


def _consistency_reading(curve: Any) -> str:
    """GLUE's reading rule, in words."""
    if not len(curve):
        return "not computed: fewer cells than the smallest number of metacells (10)"
    low = [int(n) for n, c in zip(curve["n_meta"], curve["consistency"], strict=True) if not c > 0.05]
    if not low:
        return "above 0.05 at every number of metacells: the integration agrees with the guidance graph"
    return f"at or below 0.05 at {low} metacells: the integration may not agree with the guidance graph; check it before use"


def _plot_consistency(curve: Any, path: Any) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 3.2))
    axis.plot(curve["n_meta"], curve["consistency"], marker="o")
    axis.axhline(0.05, color="grey", linestyle="--", linewidth=1)
    axis.set_xscale("log")
    axis.set_xlabel("metacells")
    axis.set_ylabel("integration consistency")
    axis.set_title("GLUE integration consistency (above 0.05: consistent)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _auto_schedule(n_rows: int, batch_size: int, validation_fraction: float, lr: float) -> dict[str, int]:
    """scglue's AUTO rules from the minibatches per epoch (``SCGLUEModel.fit``), ``n_rows`` being
    the cells of all modalities together."""
    per_epoch = max(n_rows * (1 - validation_fraction) / batch_size, 1.0)
    return {
        "align_burnin": max(math.ceil(8 / lr / per_epoch), 8),
        "max_epochs": max(math.ceil(48 / lr / per_epoch), 48),
        "patience": max(math.ceil(4 / lr / per_epoch), 4),
        "reduce_lr_patience": max(math.ceil(2 / lr / per_epoch), 2),
    }


def _train(
    model: GLUE, graph: Any, counts: list[Any], representations: list[np.ndarray], batches: list[np.ndarray]
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Pretrain, balancing weights, fine-tune; returns each modality's embedding, the feature
    embeddings and notes."""
    import torch

    from dance.multi.multiomics_integration.glue_module import GLUEModule
    from dance.nn.data import AlignedRows, predict_in_batches, torch_generator
    from dance.nn.trainer import Trainer

    p = model.params
    device = model.device_
    # first: the trainer seeds torch, so the weights below start alike in every process (torch is
    # imported inside this function, after the fit's own seeding)
    pretrain_trainer = Trainer(model.name, seed=model.seed, device=device, generator=torch_generator(model.seed))
    sizes = [c.shape[0] for c in counts]
    widths = [c.shape[1] for c in counts]
    slices = [slice(sum(widths[:i]), sum(widths[: i + 1])) for i in range(len(widths))]
    module = GLUEModule(
        [r.shape[1] for r in representations],
        slices,
        len(graph.features),
        [int(b.max()) + 1 for b in batches],
        latent=p.latent,
        hidden=p.hidden,
        depth=p.depth,
        dropout=p.dropout,
    ).to(device)
    rows = [AlignedRows(r, c, device=device) for r, c in zip(representations, counts, strict=True)]
    batch_tensors = [torch.as_tensor(b, device=device) for b in batches]
    propagation = _propagation(graph, device)
    sampler = _EdgeSampler(graph, p.neg_samples, seed=model.seed)
    schedule = _auto_schedule(sum(sizes), p.batch_size, p.validation_fraction, p.learning_rate)
    # scglue's fit arguments: a value given replaces its AUTO rule, the others stay AUTO
    schedule.update({name: value for name in schedule if (value := getattr(p, name)) is not None})
    epochs = schedule["max_epochs"]
    history: dict[str, Any] = {}
    weights = [torch.ones(n, device=device) for n in sizes]
    notes: dict[str, Any] = {"glue_schedule": schedule}
    for stage_name, burnin in (("pretrain", None), ("finetune", schedule["align_burnin"])):
        trainer = (
            pretrain_trainer
            if stage_name == "pretrain"
            else Trainer(model.name, seed=model.seed + 1, device=device, generator=torch_generator(model.seed))
        )
        result = _fit_stage(
            trainer, stage_name, module, rows, batch_tensors, propagation, sampler, weights, sizes, epochs, burnin, schedule, p
        )
        history.update(trainer.history)
        notes[f"glue_{stage_name}_epochs"] = result.epochs
        if stage_name == "pretrain":
            module.eval()
            with torch.no_grad():
                embedded = [
                    predict_in_batches(lambda index, k=k: module.encoders[k](rows[k][index][0]).mean, sizes[k]).cpu().numpy()
                    for k in range(len(sizes))
                ]
            balanced = balancing_weights(
                embedded, resolution=p.balance_resolution, cutoff=p.balance_cutoff, power=p.balance_power, seed=model.seed
            )
            weights = [torch.as_tensor(w, device=device) for w in balanced]
    module.eval()
    with torch.no_grad():
        embeddings = tuple(
            predict_in_batches(lambda index, k=k: module.encoders[k](rows[k][index][0]).mean, sizes[k]).cpu().numpy()
            for k in range(len(sizes))
        )
        features = module.graph_encoder(propagation).mean.cpu().numpy()
    model.module_ = module
    model.training_history_ = history
    return embeddings, features, notes


def _propagation(graph: Any, device: Any) -> Any:
    """The graph encoder's propagation: ``A[t, s] = sign * w / sqrt(weighted in-degree of t)``
    over every edge (forward, reverse, self-loops)."""
    import torch

    n = len(graph.features)
    weight = graph.weight.astype(np.float64)
    in_degree = np.bincount(graph.target, weights=weight, minlength=n)
    values = graph.sign * weight / np.sqrt(np.clip(in_degree[graph.target], 1e-12, None))
    index = torch.as_tensor(np.vstack([graph.target, graph.source]), dtype=torch.int64)
    return torch.sparse_coo_tensor(index, torch.as_tensor(values, dtype=torch.float32), (n, n), check_invariants=True).coalesce().to(device)


class _EdgeSampler:
    """scglue's ``GraphDataset``: positive edges drawn with replacement in proportion to their
    weight, ``round(sum of weights)`` per epoch in 32 batches; for each, ``neg_samples`` negatives
    with the same source and sign and a target drawn in proportion to the vertices' degree
    (self-loops left out), redrawn while they hit an existing edge."""

    def __init__(self, graph: Any, neg_samples: int, seed: int) -> None:
        self.source, self.target, self.sign = graph.source, graph.target, graph.sign.astype(np.int64)
        weight = graph.weight.astype(np.float64)
        # cumulative distributions, so that a draw is one binary search per sample (rng.choice
        # with p= rebuilds the cumulative sum over every edge at each call)
        self.edge_cdf = np.cumsum(weight / weight.sum())
        self.n = len(graph.features)
        non_loop = graph.kind != "loop"
        degree = np.bincount(self.source[non_loop], weights=weight[non_loop], minlength=self.n) + np.bincount(
            self.target[non_loop], weights=weight[non_loop], minlength=self.n
        )
        vertex_probability = degree / degree.sum() if degree.sum() > 0 else np.full(self.n, 1.0 / self.n)
        self.vertex_cdf = np.cumsum(vertex_probability)
        self.existing = np.unique(self._key(self.source, self.target, self.sign))
        self.per_batch = max(1, math.ceil(round(weight.sum()) / 32))
        self.neg_samples = neg_samples
        self.rng = np.random.default_rng(seed)

    def _key(self, source: np.ndarray, target: np.ndarray, sign: np.ndarray) -> np.ndarray:
        return (source.astype(np.int64) * self.n + target) * 2 + (sign > 0)

    def _draw(self, cdf: np.ndarray, size: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, self.rng.random(size) * cdf[-1], side="right"), cdf.size - 1)

    def _is_edge(self, source: np.ndarray, target: np.ndarray, sign: np.ndarray) -> np.ndarray:
        keys = self._key(source, target, sign)
        position = np.minimum(np.searchsorted(self.existing, keys), self.existing.size - 1)
        return self.existing[position] == keys

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(source, target, sign, label)`` of one batch of positive and negative edges."""
        chosen = self._draw(self.edge_cdf, self.per_batch)
        source, target, sign = self.source[chosen], self.target[chosen], self.sign[chosen]
        neg_source = np.repeat(source, self.neg_samples)
        neg_sign = np.repeat(sign, self.neg_samples)
        neg_target = self._draw(self.vertex_cdf, neg_source.size)
        clash = np.flatnonzero(self._is_edge(neg_source, neg_target, neg_sign))
        for _ in range(10):
            if not clash.size:
                break
            neg_target[clash] = self._draw(self.vertex_cdf, clash.size)
            clash = clash[self._is_edge(neg_source[clash], neg_target[clash], neg_sign[clash])]
        label = np.concatenate([np.ones(source.size), np.zeros(neg_source.size)]).astype(np.float32)
        return np.concatenate([source, neg_source]), np.concatenate([target, neg_target]), np.concatenate([sign, neg_sign]), label


def _fit_stage(
    trainer: Any,
    name: str,
    module: Any,
    rows: list[Any],
    batches: list[Any],
    propagation: Any,
    sampler: _EdgeSampler,
    weights: list[Any],
    sizes: list[int],
    epochs: int,
    burnin: int | None,
    schedule: dict[str, int],
    p: Any,
) -> Any:
    """One stage: the discriminator step and the VAE step on every minibatch, scglue's learning-rate
    plateau and early-stopping rules in the epoch hook."""
    import torch
    import torch.nn.functional as F
    from torch.distributions import Normal, kl_divergence

    from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage

    n_rows = sum(sizes)
    offsets = np.cumsum([0, *sizes[:-1]]).tolist()
    vae_optimizer = torch.optim.RMSprop(module.vae_parameters(), lr=p.learning_rate)
    dsc_optimizer = torch.optim.RMSprop(module.discriminator.parameters(), lr=p.learning_rate)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(vae_optimizer, mode="min", factor=0.1, patience=schedule["reduce_lr_patience"])
    state = {"epoch": 0}
    prior = Normal(0.0, 1.0)

    def anneal() -> float:
        if burnin is None:
            return 1.0
        return max(1.0 - state["epoch"] / burnin, 0.0)

    def indices(batch: Batch, k: int) -> torch.Tensor:
        index = torch.arange(n_rows, device=batches[k].device) if batch.index is None else torch.as_tensor(batch.index)
        # row r is modality k's own cell r - offset there, a cyclic filler elsewhere (scglue's AnnDataset)
        return (index - offsets[k]) % sizes[k]

    def discriminator_loss(u_means: list[torch.Tensor], cells: list[torch.Tensor]) -> torch.Tensor:
        u = torch.cat(u_means)
        if anneal() > 0:
            u = u + torch.randn_like(u) * u.std(dim=0, keepdim=True).detach() * 1.5 * anneal()
        target = torch.cat([torch.full((len(m),), k, device=u.device, dtype=torch.int64) for k, m in enumerate(u_means)])
        weight = torch.cat([weights[k][cells[k]] for k in range(len(cells))])
        return (weight * F.cross_entropy(module.discriminator(u), target, reduction="none")).sum() / len(target)

    def dsc_step(batch: Batch) -> dict[str, torch.Tensor]:
        cells = [indices(batch, k) for k in range(len(sizes))]
        with torch.no_grad():
            means = [module.encoders[k](rows[k][cells[k]][0]).mean for k in range(len(sizes))]
        return {"loss": p.lam_align * discriminator_loss(means, cells)}

    def vae_step(batch: Batch) -> dict[str, torch.Tensor]:
        cells = [indices(batch, k) for k in range(len(sizes))]
        v_posterior = module.graph_encoder(propagation)
        v = v_posterior.rsample() if batch.training else v_posterior.mean
        terms: dict[str, torch.Tensor] = {}
        elbo = torch.zeros((), device=v.device)
        means = []
        for k in range(len(sizes)):
            x_rep, x = rows[k][cells[k]]
            q = module.encoders[k](x_rep)
            u = q.rsample() if batch.training else q.mean
            means.append(q.mean)
            nll = -module.decoders[k].log_likelihood(x, u, v[module.feature_slices[k]], batches[k][cells[k]]) / x.numel()
            kl = kl_divergence(q, prior).sum(dim=1).mean() / x.shape[1]
            terms[f"nll_{k + 1}"], terms[f"kl_{k + 1}"] = nll, kl
            elbo = elbo + nll + p.lam_kl * kl
        source, target, sign, label = (torch.as_tensor(a, device=v.device) for a in sampler.sample())
        logits = sign * (v[source] * v[target]).sum(dim=1)
        edge_nll = F.binary_cross_entropy_with_logits(logits, label, reduction="none")
        positive = label > 0
        graph_nll = (edge_nll[positive].mean() + edge_nll[~positive].mean()) / 2
        graph_kl = kl_divergence(v_posterior, prior).sum(dim=1).mean() / v.shape[0]
        vae = elbo + p.lam_graph * len(sizes) * (graph_nll + p.lam_kl * graph_kl)
        dsc = discriminator_loss(means, cells)
        terms.update(graph_nll=graph_nll, vae=vae, discriminator=dsc)
        return {"loss": vae - p.lam_align * dsc, **terms}

    stage = Stage(
        name,
        epochs=epochs,
        n=n_rows,
        batch_size=p.batch_size,
        min_batch_size=2,
        steps=[OptimizerStep(dsc_optimizer, dsc_step, name="discriminator"), OptimizerStep(vae_optimizer, vae_step, name="generator")],
        # tracks (and restores) the best validation VAE loss; stopping is scglue's rule below
        early_stopping=EarlyStopping(
            fraction=p.validation_fraction, monitor="generator_vae", patience=10**9, restore_best=True, batch_size=p.batch_size
        ),
    )
    watch = {"best": math.inf, "wait": 0, "reductions": 0}
    gate = 0 if burnin is None else burnin

    def on_epoch_end(epoch: int, terms: dict[str, float]) -> bool:
        state["epoch"] = epoch + 1
        if epoch + 1 < gate:
            return False
        value = terms["val_generator_vae"]
        before = vae_optimizer.param_groups[0]["lr"]
        plateau.step(value)
        if vae_optimizer.param_groups[0]["lr"] < before:
            watch["reductions"] += 1
        if value < watch["best"]:
            watch["best"], watch["wait"] = value, 0
        else:
            watch["wait"] += 1
        return watch["reductions"] >= 1 and watch["wait"] >= schedule["patience"]

    return trainer.fit(stage, module=module, on_epoch_end=on_epoch_end)
