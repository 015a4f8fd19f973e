"""The task contract base class.

A contract is the single place that knows, for one task,

* which AnnData fields a model reads (``spec.inputs``) and how to validate them up front;
* how to hide the truth for evaluation (:meth:`TaskContract.holdout`), returning a *view* the
  model may see and the *truth* it must not;
* what a prediction looks like (:meth:`TaskContract.check_prediction`) and where it is written
  (:meth:`TaskContract.write_output`, conventional keys such as ``obs['<model>_pred']``);
* how it is scored: every metric registered for the task is called as ``fn(truth, prediction)``
  with the objects :meth:`TaskContract.evaluation_inputs` builds.

Contract modules are imported when the registry loads, so they import numpy, pandas and
anndata inside methods only: listing stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from dance.core.containers import Modalities, SpotsAndReference, roles_of
from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import TaskData
    from dance.core.keys import DataKeys
    from dance.core.models.base import DanceModel
    from dance.core.plotting.context import PlotContext
    from dance.core.registry import Registry
    from dance.core.specs import TaskSpec

__all__ = ["BrokenInput", "LabelTruth", "PartitionContract", "TaskContract"]


class LabelTruth:
    """True labels of the evaluated cells and their positions in the view given to the model."""

    def __init__(self, positions: Any, labels: Any, revealed: Any = None) -> None:
        self.positions = positions
        self.labels = labels
        #: per evaluated cell, whether its label was shown to the model (``--reveal-labels``)
        self.revealed = revealed

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_column(cls, values: Any, mask: Any | None = None) -> LabelTruth | None:
        """Labels of cells in ``mask`` (default: all) that have a label; None when there are none."""
        import numpy as np
        import pandas as pd

        series = pd.Series(np.asarray(values, dtype=object))
        keep = series.notna().to_numpy()
        if mask is not None:
            keep &= np.asarray(mask, dtype=bool)
        if not keep.any():
            return None
        positions = np.flatnonzero(keep)
        return cls(positions, series.to_numpy()[positions].astype(str))

    def pair(self, prediction: Any) -> tuple[Any, Any]:
        """``(y_true, y_pred)`` for the evaluated cells."""
        import numpy as np

        return self.labels, np.asarray(prediction)[self.positions]


class BrokenInput:
    """A deliberately broken copy of valid data and the field(s) its error may name (test kit)."""

    def __init__(self, description: str, data: TaskData, field: str | tuple[str, ...]) -> None:
        self.description = description
        self.data = data
        self.fields = (field,) if isinstance(field, str) else tuple(field)

    def named_in(self, message: str) -> bool:
        return any(field in message for field in self.fields)

    def __repr__(self) -> str:
        return f"BrokenInput({self.description!r}, fields={self.fields!r})"


class TaskContract:
    """Behaviour shared by every task; subclasses declare ``spec`` and ``model_base``."""

    spec: ClassVar[TaskSpec]
    model_base: ClassVar[type[DanceModel]]
    #: split off this fraction of cells as test cells when the data has no split column
    test_fraction: ClassVar[float] = 0.2
    #: whether the hold-out view keeps the original cells in order, so outputs can be written
    #: on the user's data (labels included) rather than on the view
    preserves_cells: ClassVar[bool] = True
    #: whether models of the task may be given a number of clusters (``--n-clusters``)
    takes_n_clusters: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model_base = cls.__dict__.get("model_base")
        if model_base is not None:
            # the model base finds its contract without a registry lookup
            model_base.contract_class = cls

    def __init__(self, spec: TaskSpec | None = None, *, registry: Registry | None = None) -> None:
        if spec is not None and spec.name != type(self).spec.name:
            raise ValueError(f"contract {type(self).__name__} is for task '{type(self).spec.name}', not '{spec.name}'")
        self._registry = registry

    @property
    def registry(self) -> Registry:
        """The registry the task's metrics come from: the one that built this contract (a test's
        or a plugin author's isolated registry), else the process-wide one."""
        if self._registry is None:
            from dance.core.registry import registry

            return registry
        return self._registry

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def headline_metric(self) -> str:
        """The metric a figure's title quotes (the task's first metric unless a contract says otherwise)."""
        return self.spec.metrics[0]

    # ------------------------------------------------------------------ validation
    def check_container(self, data: Any) -> None:
        """Fail unless ``data`` is the container type the task takes."""
        from anndata import AnnData

        expected = {"single": AnnData, "modalities": Modalities, "spots_reference": SpotsAndReference}[self.spec.input_kind]
        if not isinstance(data, expected):
            hint = {
                "single": "one AnnData",
                "modalities": "Modalities(mod1, mod2) (or --data A.h5ad --data2 B.h5ad, or a .h5mu)",
                "spots_reference": "SpotsAndReference(spots, reference) (or --data spots.h5ad --reference cells.h5ad)",
            }[self.spec.input_kind]
            raise DanceInputError(f"task '{self.name}' takes {hint}; got {type(data).__name__}", field="data")

    def validate(self, data: TaskData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        """Check ``data`` meets the contract; raise :class:`DanceInputError` naming the field.

        ``stage`` is ``"predict"``, ``"fit"`` or ``"evaluate"`` (each checks at least what the one
        before it does; ``"evaluate"`` also checks the truth). An object already validated at this
        stage or a stronger one, and not changed since (same shape, matrix and keys), is not
        checked again: a run validates its input once, not once per fit, predict and score.
        """
        if self._validated_before(data, keys, stage, needs_counts):
            return
        self.check(data, keys, stage=stage, needs_counts=needs_counts)
        self.mark_validated(data, keys, stage=stage, needs_counts=needs_counts)

    def mark_validated(self, data: TaskData, keys: DataKeys, *, stage: str, needs_counts: bool) -> None:
        """Record that ``data`` meets the contract at ``stage`` (e.g. a hold-out view derived from
        validated data), so later calls of :meth:`validate` skip it while it is unchanged."""
        import weakref

        validations = self._validation_records()
        key = id(data)
        try:  # AnnData is unhashable, so records are keyed by id and dropped when the object goes
            reference = weakref.ref(data, lambda _: validations.pop(key, None))
        except TypeError:  # an object without weak references is simply validated every time
            return
        validations[key] = (reference, _data_fingerprint(data, keys), _STAGE_ORDER[stage], needs_counts)

    def _validated_before(self, data: TaskData, keys: DataKeys, stage: str, needs_counts: bool) -> bool:
        record = self._validation_records().get(id(data))
        if record is None or record[0]() is not data:
            return False
        _, fingerprint, level, had_counts = record
        return fingerprint == _data_fingerprint(data, keys) and level >= _STAGE_ORDER[stage] and (had_counts or not needs_counts)

    def _validation_records(self) -> dict[int, tuple[Any, ...]]:
        records = self.__dict__.get("_validations")
        if records is None:
            records = self.__dict__["_validations"] = {}
        return records

    def check(self, data: TaskData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        """The checks behind :meth:`validate` (contracts extend this, calling ``super().check``).

        ``stage`` is ``"fit"``, ``"predict"`` or ``"evaluate"`` (the latter also checks the truth).
        The base class checks the container, that no role is empty, that X is finite and, when
        the model needs them, that raw counts are available.
        """
        from dance.core import validation as v

        self.check_container(data)
        for role, adata in roles_of(data).items():
            v.check_nonempty(adata, role)
            if needs_counts:
                v.counts_location(adata, keys, role)
            else:
                v.check_finite(adata.X, "X" if role == "adata" else f"{role}.X")

    # ------------------------------------------------------------------ evaluation protocol
    def holdout(self, data: TaskData, keys: DataKeys, *, seed: int) -> tuple[TaskData, Any]:
        """Return ``(view, truth)``: a copy the model may see and the truth it must not."""
        raise NotImplementedError

    def holdout_for_prediction(self, data: TaskData, keys: DataKeys, *, seed: int) -> tuple[TaskData, Any]:
        """``(view, truth)`` for a model fitted elsewhere (``dance predict``): every cell of ``data``
        is predicted and, where the truth is present, scored. The task's own hold-out by default
        (it already hides all of the truth for most tasks); annotation scores every labelled cell."""
        return self.holdout(data, keys, seed=seed)

    def check_prediction(self, prediction: Any, data: TaskData, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        """Validate a model's prediction for ``data`` and return it in canonical form."""
        raise NotImplementedError

    def evaluation_inputs(self, prediction: Any, truth: Any, keys: DataKeys, *, model: DanceModel | None = None) -> tuple[Any, Any]:
        """The ``(truth, prediction)`` objects the task's metrics are called with."""
        return truth, prediction

    def evaluate(self, prediction: Any, truth: Any, keys: DataKeys, *, model: DanceModel | None = None) -> dict[str, float]:
        """Every registered metric of the task that the available truth allows."""
        return self.evaluate_with_reasons(prediction, truth, keys, model=model)[0]

    def evaluate_with_reasons(
        self, prediction: Any, truth: Any, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """``(metrics, absent)``: every registered metric of the task that the data allow, and for
        each one they do not, why (a metric raising :class:`MetricNotComputableError` gives its reason;
        one returning None lacks the labels or batches it needs). Absent metrics are never 0."""
        from dance.core.errors import MetricNotComputableError

        if truth is None:
            return {}, {}
        truth_obj, prediction_obj = self.evaluation_inputs(prediction, truth, keys, model=model)
        metrics: dict[str, float] = {}
        absent: dict[str, str] = {}
        for spec in self.registry.metrics(self.name):
            try:
                value = spec.load()(truth_obj, prediction_obj)
            except MetricNotComputableError as exc:
                absent[spec.name] = str(exc)
                continue
            if value is None:
                absent[spec.name] = "the input lacks what it needs (labels, or several batches)"
            else:
                metrics[spec.name] = float(value)
        return self.aggregate(metrics), absent

    def aggregate(self, metrics: dict[str, float]) -> dict[str, float]:
        """Add summary scores computed from other metrics (none by default)."""
        return metrics

    # ------------------------------------------------------------------ output
    def output_source(self, view: TaskData, original: TaskData, keys: DataKeys) -> TaskData:
        """What outputs are written on: the original data plus the view's split, or the view."""
        if not self.preserves_cells:
            return view
        source = original.copy()
        for view_role, source_role in zip(roles_of(view).values(), roles_of(source).values(), strict=False):
            if keys.split_key in view_role.obs.columns and view_role.n_obs == source_role.n_obs:
                source_role.obs[keys.split_key] = view_role.obs[keys.split_key].to_numpy()
        return source

    def store_prediction(self, data: TaskData, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """Write ``prediction`` into the user's ``data`` under ``key`` (``model.predict(data, key_added=key)``).

        The one place dance writes into a user's object, and only when asked; each task stores
        its prediction where scanpy users look for that kind of result.
        """
        raise NotImplementedError(f"task '{self.name}' cannot store predictions in its input")

    def write_output(
        self, data: TaskData, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        """AnnData objects to save, by file stem, with the prediction under conventional keys."""
        raise NotImplementedError

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: Any, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """Write the task's figure(s) into ``folder``; returns their paths by name (none by default).

        ``outputs`` are the AnnData objects :meth:`write_output` made (before they are saved): a
        figure shows what the files hold, and may add what it computed for display to them (the
        UMAP coordinates of an embedding, ``obsm['X_umap']``). ``context`` gives the model,
        dataset and metrics for the title.
        """
        return {}

    # ------------------------------------------------------------------ run helpers
    def reveal_labels(self, view: TaskData, truth: Any, keys: DataKeys, *, fraction: float, seed: int) -> dict[str, Any]:
        """Show the model the labels of a seeded ``fraction`` of the cells (a semi-supervised
        protocol such as scDCC's); only tasks whose labels are otherwise hidden take it."""
        raise DanceInputError(f"task '{self.name}' has no hidden labels to reveal; drop --reveal-labels", field="--reveal-labels")

    def choose_n_clusters(
        self, model_cls: type[DanceModel], data: TaskData, keys: DataKeys, params: dict[str, Any], requested: int | str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply ``--n-clusters N`` / ``--n-clusters-from-labels`` (``requested`` = N or ``"labels"``).

        Only tasks that partition cells take a number of clusters; elsewhere asking for one is an
        error. Returns the parameters and notes for the result.
        """
        if requested is not None:
            raise DanceInputError(f"task '{self.name}' has no number of clusters to choose; drop --n-clusters", field="--n-clusters")
        return params, {}

    def suggest_params(
        self, model_cls: type[DanceModel], data: TaskData, keys: DataKeys, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Parameters derived from the data (e.g. the number of clusters) and notes for the result."""
        return params, {}

    def broken_inputs(self, data: TaskData, keys: DataKeys) -> list[BrokenInput]:
        """Copies of valid ``data`` with a required field removed or corrupted (for the test kit)."""
        import numpy as np

        broken = []
        for role in roles_of(data):
            copy = data.copy()
            target = roles_of(copy)[role]
            x = target.X.toarray() if hasattr(target.X, "toarray") else np.array(target.X, dtype=float)
            x = x.astype(float)
            x[0, 0] = np.nan
            target.X = x
            if keys.counts_layer in target.layers:
                layer = target.layers[keys.counts_layer]
                layer = (layer.toarray() if hasattr(layer, "toarray") else np.array(layer)).astype(float)
                layer[0, 0] = np.nan
                target.layers[keys.counts_layer] = layer
            broken.append(BrokenInput(f"NaN in {role}.X", copy, ("X", f"layers['{keys.counts_layer}']")))
        return broken


# ---------------------------------------------------------------------- helpers shared by contracts
_STAGE_ORDER = {"predict": 0, "fit": 1, "evaluate": 2}


def _data_fingerprint(data: Any, keys: DataKeys) -> tuple[Any, ...]:
    """What must not change for a validation to still hold: each role's shape, matrix, column and key names."""
    return (
        keys.model_dump_json(),
        tuple(
            (a.shape, id(a.X), tuple(a.obs.columns), tuple(a.obsm.keys()), tuple(a.layers.keys()), tuple(a.uns.keys()))
            for a in roles_of(data).values()
        ),
    )


def split_labels(n_obs: int, labels: Any | None, *, test_fraction: float, seed: int) -> Any:
    """'train'/'test' per cell: stratified by ``labels`` when given (classes of one cell stay in train)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    split = np.full(n_obs, "train", dtype=object)
    if labels is None:
        test = rng.choice(n_obs, size=max(1, round(test_fraction * n_obs)), replace=False)
        split[test] = "test"
        return split
    import pandas as pd

    series = pd.Series(np.asarray(labels, dtype=object))
    series = series[series.notna()].astype(str)
    for _, members in sorted(series.groupby(series).indices.items()):
        members = series.index.to_numpy()[members]
        n_test = round(test_fraction * len(members))
        if len(members) >= 2 and n_test >= 1:
            split[rng.choice(members, size=min(n_test, len(members) - 1), replace=False)] = "test"
    return split


def ensure_split(adata: AnnData, keys: DataKeys, *, seed: int, stratify: bool, test_fraction: float) -> Any:
    """The split column of ``adata`` (validated), or a seeded new split; returns a numpy array."""
    import numpy as np

    from dance.core import validation as v

    existing = v.require_split(adata, keys, need_test=True) if keys.split_key in adata.obs.columns else None
    if existing is not None:
        return existing.to_numpy(dtype=object)
    labels = adata.obs[keys.label_key].to_numpy() if stratify and keys.label_key in adata.obs.columns else None
    return np.asarray(split_labels(adata.n_obs, labels, test_fraction=test_fraction, seed=seed))


def drop_obs_column(adata: AnnData, key: str) -> None:
    if key in adata.obs.columns:
        del adata.obs[key]


def without_labels(data: AnnData, label_key: str) -> tuple[AnnData, LabelTruth | None]:
    """A copy of ``data`` without its label column, and the labels as truth (None when absent)."""
    view = data.copy()
    truth = None
    if label_key in view.obs.columns:
        truth = LabelTruth.from_column(view.obs[label_key].astype(object).to_numpy())
        drop_obs_column(view, label_key)
    return view, truth


def label_array(prediction: Any, n_obs: int, what: str) -> Any:
    """A 1-D array of ``n_obs`` labels, or a clear error."""
    import numpy as np
    import pandas as pd

    values = prediction.to_numpy() if isinstance(prediction, (pd.Series, pd.Index)) else np.asarray(prediction)
    if values.ndim != 1 or values.shape[0] != n_obs:
        raise DanceInputError(f"{what} must be a 1-D array with one entry per cell ({n_obs}); got shape {values.shape}", field="prediction")
    return values


def matrix_shape_check(matrix: Any, shape: tuple[int, int], what: str) -> Any:
    """A finite 2-D matrix of ``shape`` (dense or sparse), or a clear error."""
    import numpy as np
    import scipy.sparse as sp

    from dance.core import validation as v

    if not sp.issparse(matrix):
        matrix = np.asarray(matrix)
    if matrix.ndim != 2 or tuple(matrix.shape) != tuple(shape):
        raise DanceInputError(f"{what} must have shape {shape}; got {getattr(matrix, 'shape', None)}", field="prediction")
    v.check_finite(matrix, what)
    return matrix


class PartitionContract(TaskContract):
    """Shared behaviour of tasks that partition cells (clustering, spatial domains).

    The label column is optional: it is removed from the view and used as truth when present.
    Models choose their number of groups themselves (a resolution, or their own estimate) unless
    the user gives one (``--n-clusters N``) or asks for the number of labelled types
    (``--n-clusters-from-labels``, DANCE's benchmark protocol). Predictions are one integer (or
    string) group per cell.
    """

    takes_n_clusters = True

    def holdout(self, data: AnnData, keys: DataKeys, *, seed: int) -> tuple[AnnData, LabelTruth | None]:
        self.validate(data, keys, stage="evaluate")
        return without_labels(data, keys.label_key)

    def check_prediction(self, prediction: Any, data: AnnData, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        labels = label_array(prediction, data.n_obs, f"{self.name} prediction")
        if labels.dtype.kind == "f" and not (labels == labels.round()).all():
            raise DanceInputError(f"{self.name} prediction must hold group labels, got fractional values", field="prediction")
        return labels.astype(int) if labels.dtype.kind in "iuf" else labels.astype(str)

    def evaluation_inputs(self, prediction: Any, truth: LabelTruth, keys: DataKeys, *, model: DanceModel | None = None) -> tuple[Any, Any]:
        return truth.pair(prediction)

    def evaluate_with_reasons(
        self, prediction: Any, truth: Any, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """The task's metrics over every labelled cell (as scDCC's paper scores its protocol) and,
        when labels were revealed to the model, the same metrics over the cells whose labels it
        never saw (``<metric>_unrevealed``)."""
        import numpy as np

        metrics, absent = super().evaluate_with_reasons(prediction, truth, keys, model=model)
        if truth is None or truth.revealed is None or not (~truth.revealed).any():
            return metrics, absent
        hidden = ~np.asarray(truth.revealed)
        subset = LabelTruth(np.asarray(truth.positions)[hidden], np.asarray(truth.labels)[hidden])
        for name, value in super().evaluate_with_reasons(prediction, subset, keys, model=model)[0].items():
            metrics[f"{name}_unrevealed"] = value
        return metrics, absent

    def reveal_labels(self, view: AnnData, truth: LabelTruth | None, keys: DataKeys, *, fraction: float, seed: int) -> dict[str, Any]:
        """Write the labels of a seeded ``fraction`` of the labelled cells into
        ``view.obs['known_<label_key>']`` (the rest missing): what a semi-supervised model may use
        (scDCC draws its pairwise constraints from it). The truth still covers every cell; the
        metrics are also reported over the cells whose labels stayed hidden."""
        import numpy as np
        import pandas as pd

        if not 0 < fraction < 1:
            raise DanceInputError(f"--reveal-labels must be a fraction between 0 and 1; got {fraction}", field="--reveal-labels")
        if truth is None:
            raise DanceInputError(
                f"--reveal-labels needs labels, but obs['{keys.label_key}'] is missing; pass --label-key to name the label column",
                field=f"obs['{keys.label_key}']",
            )
        rng = np.random.default_rng(seed)
        n_revealed = max(1, round(fraction * len(truth)))
        chosen = np.zeros(len(truth), dtype=bool)
        chosen[rng.choice(len(truth), size=n_revealed, replace=False)] = True
        known = np.full(view.n_obs, None, dtype=object)
        known[np.asarray(truth.positions)[chosen]] = np.asarray(truth.labels)[chosen]
        column = f"known_{keys.label_key}"
        view.obs[column] = pd.Categorical(known)
        truth.revealed = chosen
        return {"revealed_labels": f"{n_revealed} of {len(truth)} labels shown to the model in obs['{column}']"}

    def store_prediction(self, data: AnnData, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``obs[key]``: the group of each cell (categorical); ``obsm['X_<key>']``: the model's cell
        embedding when it learns one."""
        import numpy as np
        import pandas as pd

        data.obs[key] = pd.Categorical(np.asarray(prediction).astype(str))
        embedding = getattr(model, "embedding_", None)
        if embedding is not None and np.ndim(embedding) == 2 and np.shape(embedding)[0] == data.n_obs:
            data.obsm[f"X_{key}"] = np.asarray(embedding, dtype=np.float32)

    def write_output(
        self, data: AnnData, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        import numpy as np
        import pandas as pd

        out = data.copy()
        out.obs[f"{model_name}_pred"] = pd.Categorical(prediction.astype(str))
        embedding = getattr(model, "embedding_", None)
        # deep clustering / domain models learn a cell embedding; users want it next to the labels
        if embedding is not None and np.ndim(embedding) == 2 and np.shape(embedding)[0] == out.n_obs:
            out.obsm[f"X_{model_name}"] = np.asarray(embedding, dtype=np.float32)
        return {"output": out}

    def choose_n_clusters(
        self, model_cls: type[DanceModel], data: AnnData, keys: DataKeys, params: dict[str, Any], requested: int | str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        has_parameter = "n_clusters" in model_cls.Params.model_fields
        given = params.get("n_clusters")
        if requested is None:
            if not has_parameter:
                return params, {}
            return params, {"n_clusters_source": "user" if given is not None else "model"}
        flag = "--n-clusters-from-labels" if requested == "labels" else "--n-clusters"
        if not has_parameter:
            raise DanceInputError(
                f"model '{model_cls.name}' takes no number of clusters (it has no n_clusters parameter); drop {flag}", field=flag
            )
        if given is not None:
            raise DanceInputError(f"the number of clusters is given twice (--set n_clusters={given} and {flag}); keep one", field=flag)
        if requested != "labels":
            return {**params, "n_clusters": int(requested)}, {"n_clusters_source": "user"}
        if keys.label_key not in data.obs.columns:
            available = ", ".join(map(str, data.obs.columns[:15])) or "none"
            raise DanceInputError(
                f"--n-clusters-from-labels counts the labelled types, but obs['{keys.label_key}'] is missing "
                f"(available obs columns: {available}); pass --label-key to name the label column",
                field=f"obs['{keys.label_key}']",
            )
        n = int(data.obs[keys.label_key].dropna().nunique())
        if n < 2:
            raise DanceInputError(
                f"--n-clusters-from-labels: obs['{keys.label_key}'] holds {n} labelled type(s); at least 2 are needed",
                field=f"obs['{keys.label_key}']",
            )
        return {**params, "n_clusters": n}, {"n_clusters_source": "labels"}
