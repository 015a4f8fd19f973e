"""The user-facing model interface every dance model implements.

A model is constructed with validated parameters, a seed and a device, and exposes

* ``fit(data) -> self``: validates ``data`` against the task contract, runs the model's
  preprocessing pipeline on a copy, and trains;
* ``predict(data)``: the task's prediction (checked against the contract);
* ``score(data) -> dict``: hides the truth the task evaluates against (the test labels, the
  held-out entries, the pairing, ...), predicts, and returns the task's metrics.

Subclasses implement ``_fit(prepared)`` and ``_predict(prepared)``; they never see the user's
original objects, only a preprocessed copy, so user data is never modified. Deep models keep
their ``torch.nn.Module`` in a separate module file and import torch inside ``_fit``.
"""

from __future__ import annotations

import abc
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from dance.core.errors import DanceError, DanceInputError, NotFittedError, did_you_mean
from dance.core.keys import DataKeys
from dance.core.transforms.pipeline import Step, parse_pipeline

if TYPE_CHECKING:
    from pathlib import Path

    from typing_extensions import Self

    from dance.core.containers import TaskData
    from dance.core.registry import Registry

__all__ = ["DanceModel", "ModelParams", "TaskContractLike"]


class TaskContractLike(Protocol):
    """What a model asks of its task's contract (:class:`dance.core.tasks.base.TaskContract`
    implements it; naming the protocol here keeps models and contracts free of an import circle)."""

    def validate(self, data: Any, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None: ...

    def holdout(self, data: Any, keys: DataKeys, *, seed: int) -> tuple[Any, Any]: ...

    def check_prediction(self, prediction: Any, data: Any, keys: DataKeys, *, model: Any = None) -> Any: ...

    def evaluate(self, prediction: Any, truth: Any, keys: DataKeys, *, model: Any = None) -> dict[str, float]: ...

    def store_prediction(self, data: Any, prediction: Any, keys: DataKeys, *, key: str, model: Any = None) -> None: ...


class ModelParams(BaseModel):
    """Base class of a model's parameters: typed, with defaults, unknown names refused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DanceModel(abc.ABC):
    """Base class of all models (use the task's subclass, e.g. ``ClusteringModel``).

    Parameters
    ----------
    params
        A ``Params`` instance or a mapping of parameter values; keyword arguments override it.
    seed
        Seed of every random choice the model makes; same seed, same result.
    device
        ``"auto"`` (a GPU when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    keys
        Where the task's fields live in the AnnData (:class:`~dance.core.keys.DataKeys`).
    pipeline
        Preprocessing steps replacing the model's ``default_pipeline`` (``[]`` for none).
    registry
        The registry its contract's metrics and its pipeline's transforms come from (the
        process-wide one by default; ``dance.core.run`` and the test kit pass theirs).
    """

    #: registry name of the model (used for output keys such as ``obs['<name>_pred']``)
    name: ClassVar[str] = "model"
    #: the task this model solves; set by the task's model base class
    task: ClassVar[str]
    #: the task contract class; set by the task's model base class
    contract_class: ClassVar[Callable[..., TaskContractLike]]
    #: parameter schema
    Params: ClassVar[type[ModelParams]] = ModelParams
    #: preprocessing the model expects, applied to a copy of the input by fit/predict
    default_pipeline: ClassVar[tuple[Step, ...]] = ()
    #: whether the model needs raw counts (validated up front)
    needs_counts: ClassVar[bool] = False
    #: transductive models predict only for the cells they were fitted on
    transductive: ClassVar[bool] = False
    #: models that train on some cells' labels (in ``obs['known_<label_key>']``): the fraction of
    #: labelled cells ``dance run`` reveals to them when ``--reveal-labels`` is not given (the
    #: metrics then cover the others); None for models that use no labels
    training_label_fraction: ClassVar[float | None] = None
    #: parameters that make the model fast on the test kit's tiny data (e.g. few epochs)
    quick_params: ClassVar[dict[str, Any]] = {}
    #: fewest cells (rows) each input must have; checked by ``fit`` before any work, so a too
    #: small input gets one line saying what it has and what the model needs
    min_cells: ClassVar[int] = 2

    def __init__(
        self,
        params: ModelParams | Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        device: str = "auto",
        keys: DataKeys | Mapping[str, str] | None = None,
        pipeline: list[Step | dict[str, Any] | str] | None = None,
        registry: Registry | None = None,
        **overrides: Any,
    ) -> None:
        self._registry = registry
        self.params = self._validate_params(params, overrides)
        self.seed = int(seed)
        self.device = device
        self.keys = keys if isinstance(keys, DataKeys) else DataKeys(**(keys or {}))
        self.pipeline: tuple[Step, ...] = self.build_pipeline() if pipeline is None else parse_pipeline(pipeline)
        self.fitted_ = False
        self._prepared: tuple[weakref.ref[Any], tuple[Any, ...], Any] | None = None
        self._contract: TaskContractLike | None = None

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _validate_params(cls, params: ModelParams | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> ModelParams:
        if isinstance(params, cls.Params):
            values = params.model_dump()
        elif isinstance(params, ModelParams):
            raise DanceInputError(f"model '{cls.name}' expects {cls.Params.__name__}, got {type(params).__name__}", field="params")
        else:
            values = dict(params or {})
        values.update(overrides)
        fields = cls.Params.model_fields
        for key in values:
            if key not in fields:
                close = did_you_mean(key, fields)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                valid = ", ".join(fields) or "none"
                raise DanceInputError(
                    f"unknown parameter '{key}' for model '{cls.name}'{hint} (valid parameters: {valid})", field=f"param '{key}'"
                )
        try:
            return cls.Params(**values)
        except ValidationError as exc:
            problems = "; ".join(f"'{'.'.join(map(str, e['loc']))}': {e['msg']} (got {e.get('input')!r})" for e in exc.errors())
            raise DanceInputError(f"invalid parameter(s) for model '{cls.name}': {problems}", field="params") from exc

    def write_model_outputs(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        """Files of the model's own beyond the task's outputs, written into the run's folder by
        ``dance run`` (e.g. GLUE's regulatory table and consistency curve); their names and
        paths. None by default."""
        return {}

    def get_params(self) -> dict[str, Any]:
        """Every parameter, plus seed and device: enough to rebuild the model exactly."""
        return {**self.params.model_dump(), "seed": self.seed, "device": self.device}

    def build_pipeline(self) -> tuple[Step, ...]:
        """The model's default preprocessing for its parameters (``default_pipeline`` unless overridden)."""
        return self.default_pipeline

    # ------------------------------------------------------------------ contract helpers
    @property
    def contract(self) -> TaskContractLike:
        if self._contract is None:
            self._contract = self.contract_class(registry=self._registry)
        return self._contract

    @property
    def device_(self) -> str:
        """The concrete device (``auto`` resolved)."""
        from dance.core.device import resolve_device

        return resolve_device(self.device)

    def preprocess(self, data: TaskData) -> TaskData:
        """Apply the model's pipeline to a copy of ``data`` (cached for the same object)."""
        from dance.core.transforms.pipeline import apply_pipeline

        fingerprint = _fingerprint(data)
        if self._prepared is not None:
            ref, cached_fingerprint, prepared = self._prepared
            if ref() is data and cached_fingerprint == fingerprint:
                return prepared
        prepared = (
            apply_pipeline(data, self.pipeline, keys=self.keys, seed=self.seed, registry=self._registry) if self.pipeline else data.copy()
        )
        try:
            self._prepared = (weakref.ref(data), fingerprint, prepared)
        except TypeError:
            self._prepared = None
        return prepared

    def _check_size(self, data: TaskData) -> None:
        from dance.core.containers import roles_of

        for role, adata in roles_of(data).items():
            if adata.n_obs < self.min_cells:
                where = "X" if role == "adata" else f"{role}.X"
                raise DanceInputError(
                    f"{where} has {adata.n_obs} cell(s) x {adata.n_vars} feature(s); model '{self.name}' needs at least "
                    f"{self.min_cells} cells",
                    field=where,
                )

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"model '{self.name}' is not fitted yet; call fit(data) first")

    # ------------------------------------------------------------------ public API
    def fit(self, data: TaskData) -> Self:
        """Validate ``data``, preprocess a copy and train. Returns ``self``."""
        from dance.core.seeding import seed_everything

        self.contract.validate(data, self.keys, stage="fit", needs_counts=self.needs_counts)
        self._check_size(data)
        from dance.core.containers import roles_of

        # the features a saved model checks new data against
        self.input_features_ = {role: tuple(map(str, adata.var_names)) for role, adata in roles_of(data).items()}
        prepared = self.preprocess(data)
        seed_everything(self.seed)
        self._fit(prepared)
        self.fitted_ = True
        if self.transductive:
            self._fitted_cells = _cell_names(data)
            self._fitted_data = prepared
        return self

    def predict(self, data: TaskData, *, key_added: str | None = None) -> Any:
        """The task's prediction for ``data`` (see the task contract for its type).

        Parameters
        ----------
        data
            The input, as for ``fit``; never modified unless ``key_added`` is given.
        key_added
            Also write the prediction into ``data`` under this key, where scanpy users look for
            it (as ``sc.tl.leiden(adata, key_added=...)`` does): ``obs[key]`` for labels and
            clusters, ``obsm[key]`` for embeddings and proportions, ``layers[key]`` for imputed
            values; each task contract's ``store_prediction`` says exactly where.
        """
        from dance.core.seeding import seed_everything

        if key_added is not None and (not isinstance(key_added, str) or not key_added or "/" in key_added):
            raise DanceInputError(f"key_added must be a non-empty name without '/'; got {key_added!r}", field="key_added")

        self._check_fitted()
        self.contract.validate(data, self.keys, stage="predict", needs_counts=self.needs_counts)
        if self.transductive:
            if _cell_names(data) != self._fitted_cells:
                raise DanceInputError(
                    f"model '{self.name}' is transductive: it predicts only the cells it was fitted on; call fit on this data first",
                    field="obs_names",
                )
            prepared = self._fitted_data
        else:
            prepared = self.preprocess(self._with_fitted_features(data))
        seed_everything(self.seed)
        prediction = self.contract.check_prediction(self._predict(prepared), data, self.keys, model=self)
        if key_added is not None:
            self.contract.store_prediction(data, prediction, self.keys, key=key_added, model=self)
        return prediction

    def score(self, data: TaskData) -> dict[str, float]:
        """Hide the task's truth in a copy of ``data``, predict on it, return the task's metrics (those
        the data do not allow are in ``metrics_absent_`` with the reason)."""
        self._check_fitted()
        view, truth = self.contract.holdout(data, self.keys, seed=self.seed)
        prediction = self.predict(view)
        metrics, absent = self.contract.evaluate_with_reasons(prediction, truth, self.keys, model=self)
        #: the task's metrics these data do not allow, and why (e.g. no pseudotime)
        self.metrics_absent_ = absent
        return metrics

    # ------------------------------------------------------------------ saving and loading
    def save(self, folder: str | Path) -> Path:
        """Save the fitted model into ``folder`` (``model.json`` and ``arrays.safetensors``, no
        pickle): parameters, seed, keys, pipeline, the genes it was fitted on and the state it
        predicts with. Load it with :meth:`load` (or ``dance predict --model-dir``)."""
        from dance.core.models.persistence import save_model_dir

        return save_model_dir(self, folder)

    @staticmethod
    def load(folder: str | Path, *, device: str = "auto", registry: Registry | None = None) -> DanceModel:
        """The fitted model saved in ``folder`` (its class comes from the installed plugins)."""
        from dance.core.models.persistence import load_model_dir

        return load_model_dir(folder, device=device, registry=registry)

    @classmethod
    def saving_refusal(cls) -> str | None:
        """Why this model cannot be saved (None when it can): checked before a run that asks to save it."""
        if cls.transductive:
            return (
                f"model '{cls.name}' is transductive: it labels only the cells it was fitted on and learns nothing that "
                "applies to new cells, so there is nothing to save; run it on the new data instead"
            )
        if cls._fitted_state is DanceModel._fitted_state:
            return f"model '{cls.name}' does not support saving yet (it implements no _fitted_state)"
        return None

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(values, arrays)``: the JSON-able and the array part of what ``_predict`` needs.

        Models that can be saved override this and :meth:`_restore_state`; arrays are NumPy
        (torch weights: ``dance.nn.persistence.module_arrays``).
        """
        raise DanceError(self.saving_refusal() or f"model '{self.name}' does not support saving yet")

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Rebuild the fitted state from what :meth:`_fitted_state` saved."""
        raise DanceError(f"model '{self.name}' does not support loading (it implements no _restore_state)")

    def _with_fitted_features(self, data: TaskData) -> TaskData:
        """``data`` restricted to the features the model was fitted on, in that order (a copy, only
        when they differ); a clear error naming the missing ones when some are absent."""
        fitted = getattr(self, "input_features_", None)
        if not fitted:
            return data
        from dance.core.containers import Modalities, SpotsAndReference, roles_of

        roles = roles_of(data)
        if all(tuple(map(str, roles[r].var_names)) == names for r, names in fitted.items() if r in roles):
            return data
        aligned = {}
        for role, adata in roles.items():
            names = fitted.get(role)
            if names is None:
                aligned[role] = adata
                continue
            present = set(map(str, adata.var_names))
            missing = [n for n in names if n not in present]
            if missing:
                where = "X" if role == "adata" else f"{role}.X"
                shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
                raise DanceInputError(
                    f"{where} lacks {len(missing)} of the {len(names)} features model '{self.name}' was fitted on ({shown}); "
                    "the new data must measure them (extra features are ignored)",
                    field=f"{where}.var_names",
                )
            aligned[role] = adata[:, list(names)].copy()
        if isinstance(data, Modalities):
            return Modalities(aligned["mod1"], aligned["mod2"], data.names)
        if isinstance(data, SpotsAndReference):
            return SpotsAndReference(aligned["spots"], aligned["reference"])
        return aligned["adata"]

    @abc.abstractmethod
    def _fit(self, data: TaskData) -> None:
        """Train on preprocessed ``data``."""

    @abc.abstractmethod
    def _predict(self, data: TaskData) -> Any:
        """Predict on preprocessed ``data``."""

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.params.model_dump().items() if self.Params.model_fields[k].default != v}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args}{', ' if args else ''}seed={self.seed}, device={self.device!r})"


def _cell_names(data: Any) -> tuple[tuple[str, ...], ...]:
    from dance.core.containers import roles_of

    return tuple(tuple(map(str, adata.obs_names)) for adata in roles_of(data).values())


def _fingerprint(data: Any) -> tuple[Any, ...]:
    from dance.core.containers import roles_of

    return tuple((a.shape, id(a.X), tuple(a.obs.columns), tuple(a.obsm.keys()), tuple(a.layers.keys())) for a in roles_of(data).values())
