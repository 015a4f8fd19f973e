"""singleCellNet: top-scoring gene pairs and a random forest with a random-profile class."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import Step, step
from dance.single.annotation.training_data import dense, genes_of, training_labels

#: the label singleCellNet gives its randomised training profiles, reported as ``UNKNOWN``
RAND = "rand"
UNKNOWN = "unknown"


def _correlations(pattern: np.ndarray, x: np.ndarray) -> np.ndarray:
    """singleCellNet's ``cval`` of each column of ``x`` against a 0/1 ``pattern``.

    ``sc_testPattern`` regresses expression on the class indicator and reports
    ``sqrt(R^2) * sign(t)``: for one predictor this is Pearson's correlation. Constant columns
    give NaN (dropped by the callers, as ``getClassGenes`` drops NA).
    """
    p = pattern - pattern.mean()
    centred = x - x.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0)) * np.sqrt((p**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, p @ centred / np.where(norms > 0, norms, 1.0), np.nan)


class SingleCellNet(CellTypeAnnotationModel):
    """singleCellNet (Tan & Cahan 2019, Cell Syst 9:207-213), as in its R and Python packages.

    On log-normalised expression of the training cells (10,000 counts per cell, log1p):

    1. Genes detected in more than 5% of the training cells, or in more than 0.1% with a mean
       non-zero expression above 2, are candidates (``sc_filterGenes``).
    2. For every cell type, each candidate gene is scored by ``cval``, its correlation with the
       type's indicator (``sc_testPattern``); the ``n_top_genes`` highest and the
       ``n_top_genes`` lowest are the type's classification genes (``getClassGenes``).
    3. Among all pairs of a type's classification genes, the binary feature "gene A is higher
       than gene B in the cell" is scored the same way, and ``n_top_gene_pairs`` pairs are
       picked in order of ``cval`` with each gene in at most 3 pairs (``findBestPairs``,
       ``ptGetTop`` in its per-type mode). The union over types is the feature set. Pair
       features are the same on raw counts and on any within-cell monotone normalisation.
    4. ``n_rand`` random profiles, made by permuting each pair feature across the training cells
       and then each cell's features across pairs (``randomize``), are added as the class
       ``rand``; a random forest of ``n_trees`` trees (``sqrt`` features per split, bootstrap,
       as R's ``randomForest`` defaults) is trained on the pair features.

    Unknown labels: as in singleCellNet, a cell whose most probable class is the random class is
    called ``"unknown"``. Such calls count as errors under the task's metrics (the truth of a
    cell is its own type, also for types absent from training). ``probabilities_`` holds the
    forest's class probabilities, the random class under the column ``"unknown"``.

    Paper defaults (R ``scn_train``): 10 genes and 25 pairs per type, 70 random profiles,
    1,000 trees, no stratified sampling.
    """

    name = "singlecellnet"

    class Params(ModelParams):
        n_top_genes: int = Field(10, ge=1, description="classification genes per type, each direction (singleCellNet: 10)")
        n_top_gene_pairs: int = Field(25, ge=1, description="gene pairs per type (singleCellNet: 25)")
        max_pairs_per_gene: int = Field(3, ge=1, description="pairs a gene may appear in (findBestPairs maxPer: 3)")
        n_rand: int = Field(70, ge=0, description="random profiles of the 'unknown' class (singleCellNet: 70)")
        n_trees: int = Field(1000, ge=1, description="trees in the random forest (singleCellNet: 1000)")
        stratify: bool = Field(False, description="balance classes in the forest (class_weight='balanced')")
        min_detection: float = Field(0.05, ge=0, le=1, description="sc_filterGenes alpha1: keep genes detected in more cells")
        min_detection_high: float = Field(0.001, ge=0, le=1, description="sc_filterGenes alpha2, with mean non-zero above mu")
        mu: float = Field(2.0, ge=0, description="sc_filterGenes mu: mean non-zero expression for the alpha2 rule")

    quick_params = {"n_trees": 20, "n_top_genes": 3, "n_top_gene_pairs": 4}

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize", target_sum=1e4),)

    def _candidate_genes(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        detected = x > 0
        alpha = detected.mean(axis=0)
        counts = detected.sum(axis=0)
        mu = np.divide((x * detected).sum(axis=0), counts, out=np.zeros(x.shape[1]), where=counts > 0)
        keep = (alpha > p.min_detection) | ((alpha > p.min_detection_high) & (mu > p.mu))
        return np.flatnonzero(keep)

    def _class_genes(self, x: np.ndarray, pattern: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        cval = _correlations(pattern, x[:, candidates])
        valid = np.flatnonzero(~np.isnan(cval))
        order = valid[np.argsort(-cval[valid], kind="stable")]
        k = self.params.n_top_genes
        chosen = np.concatenate([order[:k], order[-k:]]) if len(order) > k else order
        return candidates[list(dict.fromkeys(chosen.tolist()))]

    def _best_pairs(self, x: np.ndarray, pattern: np.ndarray, genes: np.ndarray) -> list[tuple[int, int]]:
        p = self.params
        first, second = np.triu_indices(len(genes), k=1)
        if len(first) == 0:
            return []
        features = (x[:, genes[first]] > x[:, genes[second]]).astype(np.float64)
        cval = _correlations(pattern, features)
        cval = np.where(np.isnan(cval), -np.inf, cval)
        used: dict[int, int] = {}
        pairs: list[tuple[int, int]] = []
        for i in np.argsort(-cval, kind="stable"):
            if len(pairs) >= p.n_top_gene_pairs or not np.isfinite(cval[i]):
                break
            a, b = int(genes[first[i]]), int(genes[second[i]])
            if used.get(a, 0) < p.max_pairs_per_gene and used.get(b, 0) < p.max_pairs_per_gene:
                pairs.append((a, b))
                used[a] = used.get(a, 0) + 1
                used[b] = used.get(b, 0) + 1
        return pairs

    @staticmethod
    def _pair_features(x: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        return (x[:, pairs[:, 0]] > x[:, pairs[:, 1]]).astype(np.float32)

    @staticmethod
    def _randomize(features: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """singleCellNet's ``randomize``: permute every feature across cells, then every cell's
        features, and keep ``n`` of the resulting profiles."""
        shuffled = rng.permuted(features, axis=0)
        shuffled = rng.permuted(shuffled, axis=1)
        rows = rng.choice(shuffled.shape[0], size=min(n, shuffled.shape[0]), replace=False)
        return shuffled[rows]

    def _fit(self, data: Any) -> None:
        from sklearn.ensemble import RandomForestClassifier

        p = self.params
        train, classes, codes = training_labels(self, data)
        x = dense(data.X[train], np.float64)
        candidates = self._candidate_genes(x)
        pairs: list[tuple[int, int]] = []
        for k in range(len(classes)):
            pattern = (codes == k).astype(np.float64)
            for pair in self._best_pairs(x, pattern, self._class_genes(x, pattern, candidates)):
                if pair not in pairs:
                    pairs.append(pair)
        if not pairs:
            from dance.core.errors import DanceInputError

            raise DanceInputError("singleCellNet found no informative gene pairs in the training cells", field="X")
        self.pairs_ = np.asarray(pairs, dtype=np.int64)
        features = self._pair_features(x, self.pairs_)
        labels = classes[codes].astype(object)
        rng = np.random.default_rng(self.seed)
        if p.n_rand > 0:
            random_profiles = self._randomize(features, p.n_rand, rng)
            features = np.vstack([features, random_profiles])
            labels = np.concatenate([labels, np.full(len(random_profiles), RAND, dtype=object)])
        forest = RandomForestClassifier(
            n_estimators=p.n_trees,
            class_weight="balanced" if p.stratify else None,
            random_state=int(rng.integers(2**31 - 1)),
        )
        self.forest_ = forest.fit(features, labels.astype(str))
        self.genes_ = data.var_names.copy()
        used_genes = np.unique(self.pairs_)
        self.notes_ = {"singlecellnet_pairs": len(pairs), "singlecellnet_genes": len(used_genes)}

    def _predict(self, data: Any) -> Any:
        x = dense(genes_of(data, self.genes_, "singleCellNet"), np.float64)
        proba = self.forest_.predict_proba(self._pair_features(x, self.pairs_))
        columns = np.array([UNKNOWN if c == RAND else c for c in self.forest_.classes_], dtype=object)
        self.probabilities_ = pd.DataFrame(proba, index=data.obs_names, columns=columns)
        return columns[np.argmax(proba, axis=1)]
