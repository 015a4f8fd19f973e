"""Turning what a user names (a dataset, files, objects) into a task's input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.containers import Modalities, SpotsAndReference
from dance.core.errors import DanceInputError, UnknownNameError

if TYPE_CHECKING:
    from dance.core.keys import DataKeys
    from dance.core.registry import Registry
    from dance.core.specs import DatasetSpec, TaskSpec

__all__ = ["ResolvedInput", "resolve_input"]

PathLike = str | Path


@dataclass
class ResolvedInput:
    """A task's input and where it came from.

    ``files`` are every file read (a Space Ranger folder contributes the files inside it that
    were read), so the input checksum identifies exactly what the run saw and none of them is
    overwritten by the outputs. ``output_rows`` selects the rows of the single output to write
    (the query cells of a reference-to-query annotation); ``modalities`` names the two
    modalities used; ``notes`` go into the result.
    """

    data: Any
    dataset: DatasetSpec | None = None
    files: list[Path] = field(default_factory=list)
    description: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    modalities: tuple[str, str] | None = None
    output_rows: Any = None
    notes: dict[str, Any] = field(default_factory=dict)

    named: list[Path] = field(default_factory=list)

    @property
    def label(self) -> str:
        """A short name of the input for figure titles: the dataset, else the names of the files or
        folders the user gave (``query.h5ad + ref.h5ad``), else what the objects are."""
        if self.dataset is not None:
            return self.dataset.name
        if self.named:
            return " + ".join(p.name for p in self.named)
        from dance.core.containers import roles_of

        try:
            cells = " + ".join(str(a.n_obs) for a in roles_of(self.data).values())
        except (AttributeError, TypeError):
            return type(self.data).__name__
        return f"in-memory {type(self.data).__name__} ({cells} cells)"


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, Path) or (isinstance(value, str) and ("/" in value or "." in value or Path(value).exists()))


def _read(path: PathLike) -> Any:
    from dance.core.data.readers import read_any

    return read_any(path)


def _align_modalities(data: Modalities, task: TaskSpec) -> Modalities:
    # Paired tasks need the same order; reorder a copy when both hold the same cells.
    if task.name in ("multiomics_integration",) or data.paired:
        return data
    mod1, mod2 = data.mod1, data.mod2
    if mod1.n_obs == mod2.n_obs and set(mod1.obs_names) == set(mod2.obs_names) and mod2.obs_names.is_unique:
        return Modalities(mod1, mod2[mod1.obs_names].copy(), data.names)
    return data


#: single-input tasks that also take a labelled reference (reference-to-query annotation);
#: tasks whose input is spots and a reference (deconvolution) take one as well
REFERENCE_QUERY_TASKS = ("cell_type_annotation",)

#: Modalities built from two separate files carry these placeholder names, which say nothing
PLACEHOLDER_NAMES = ("mod1", "mod2")


def _check_options(
    task: TaskSpec, data: Any, data2: Any, reference: Any, solution: Any, modalities: tuple[str | None, str | None] | None
) -> None:
    """Refuse options the task does not take, before any file is read."""
    from dance.core.data.solutions import SOLUTION_TASKS

    name, kind = task.name, task.input_kind
    if modalities is not None and kind != "modalities":
        raise DanceInputError(
            f"--mod1/--mod2 choose the two modalities of a two-modality task; task '{name}' takes one input",
            field="--mod1",
        )
    if solution is not None and name not in SOLUTION_TASKS:
        raise DanceInputError(
            f"--solution applies to the NeurIPS 2021 task layouts of {', '.join(SOLUTION_TASKS)}; task '{name}' takes none",
            field="--solution",
        )
    if reference is not None and kind != "spots_reference" and name not in REFERENCE_QUERY_TASKS:
        raise DanceInputError(
            f"--reference applies to cell_type_annotation (train on the reference, annotate --data) and to deconvolution; "
            f"task '{name}' takes none",
            field="--reference",
        )
    if data2 is not None and kind != "modalities":
        raise DanceInputError(f"--data2 is the second modality of a two-modality task; task '{name}' takes none", field="--data2")
    extras = _extra_options(data2, reference, solution, None)  # --mod1/--mod2 orient the default dataset too
    if data is None and extras:
        raise DanceInputError(f"{', '.join(extras)}: pass --data as well (these options complete a file given with --data)", field="--data")


def _extra_options(data2: Any, reference: Any, solution: Any, modalities: Any) -> list[str]:
    """The options given next to ``--data``, as the user typed them."""
    given = [flag for flag, value in (("--data2", data2), ("--reference", reference), ("--solution", solution)) if value is not None]
    return [*given, "--mod1/--mod2"] if modalities is not None else given


def _named(role: str, value: Any) -> str:
    """``role (file name)`` for a path, ``role`` for an in-memory object: how messages name an input."""
    return f"{role} ({Path(value).name})" if isinstance(value, (str, Path)) else role


def resolve_input(
    task: TaskSpec,
    data: Any = None,
    *,
    data2: Any = None,
    reference: Any = None,
    solution: Any = None,
    modalities: tuple[str | None, str | None] | None = None,
    keys: DataKeys | Mapping[str, str | None] | None = None,
    registry: Registry,
    download: bool = True,
) -> ResolvedInput:
    """Resolve what the user named into ``task``'s input, in the form its contract takes.

    Parameters
    ----------
    task
        The task's spec.
    data
        A registered dataset name, a path, or an in-memory AnnData / Modalities /
        SpotsAndReference; the task's default dataset when None. With ``reference`` and
        annotation, the query to annotate.
    data2
        The second modality, when ``data`` is the first one's file.
    reference
        Labelled cells: annotation trains on them and annotates ``data`` (combined by
        :func:`dance.core.data.reference_query.combine_reference_query`; the query cells are
        the output's rows); deconvolution's single-cell reference.
    solution
        An OpenProblems-style solution (path or AnnData) for joint embedding, modality
        prediction or matching, merged into the input by
        :func:`dance.core.data.solutions.merge_solution` so the task's hold-out hides it and
        scores against it.
    modalities
        ``(mod1, mod2)`` names of an .h5mu file's or a dataset's modalities (either may be
        None for the usual one: RNA, and protein or else ATAC); a dataset's pair is swapped
        when they name it the other way round (:func:`orient_modalities`).
    keys
        The user's key overrides (``label_key``, ``split_key``, ``counts_layer``, ...): the
        reference/query and solution merges write and read these fields.
    registry
        The registry datasets are looked up in.
    download
        Whether dataset files may be downloaded.

    Returns
    -------
    ResolvedInput
        The input, the files read, the modalities used, the rows to write and notes.

    Raises
    ------
    DanceInputError
        When an option does not apply to the task or the inputs do not fit together; the
        message names the option or field.
    """
    from anndata import AnnData

    from dance.core.data import load_dataset
    from dance.core.data.readers import h5mu_modality_names, is_h5mu, read_any
    from dance.core.keys import DataKeys

    data_keys = keys if isinstance(keys, DataKeys) else DataKeys().with_overrides(**dict(keys or {}))
    _check_options(task, data, data2, reference, solution, modalities)
    if data is None:
        spec = registry.default_dataset(task.name)
        return _from_dataset(spec, task, registry, download, modalities=modalities)
    if isinstance(data, str) and not _looks_like_path(data):
        try:
            spec = registry.get_dataset(data)
        except UnknownNameError as exc:
            raise UnknownNameError("dataset", data, [d.name for d in registry.datasets()], hint="or pass a path to a data file") from exc
        given = _extra_options(data2, reference, solution, None)
        if given:
            raise DanceInputError(f"dataset '{data}' already holds every input of the task; do not pass {', '.join(given)}", field="data")
        if task.name not in spec.tasks:
            raise DanceInputError(f"dataset '{data}' is for task(s) {', '.join(spec.tasks)}, not '{task.name}'", field="dataset")
        return _from_dataset(spec, task, registry, download, loader=load_dataset, modalities=modalities)

    files: list[Path] = []
    named: list[Path] = []  # what the user passed (a folder, not the files read inside it)

    def load(value: Any, *, names: tuple[str | None, str | None] | None = None) -> Any:
        if isinstance(value, (str, Path)):
            path = Path(value).expanduser()
            named.append(path)
            if path.is_dir():
                from dance.core.data.visium import visium_files

                files.extend(visium_files(path))
            else:
                files.append(path)
            if task.input_kind != "modalities" and path.is_file() and is_h5mu(path):
                raise DanceInputError(
                    f"task '{task.name}' takes one AnnData (.h5ad); {path} is an .h5mu file holding several modalities", field="data"
                )
            return read_any(path, modalities=names)
        if names is not None:
            raise DanceInputError(
                f"--mod1/--mod2 choose the modalities of an .h5mu file; the input is already a {type(value).__name__}", field="--mod1"
            )
        return value

    first = load(data, names=modalities)
    kind = task.input_kind
    notes: dict[str, Any] = {}
    output_rows = None
    used: tuple[str, str] | None = None
    if kind == "single":
        if not isinstance(first, AnnData):
            raise DanceInputError(f"task '{task.name}' takes one AnnData (.h5ad); got {type(first).__name__}", field="data")
        result: Any = first
        if reference is not None:
            from dance.core.data.reference_query import combine_reference_query

            ref = load(reference)
            if not isinstance(ref, AnnData):
                raise DanceInputError(
                    f"--reference must be one AnnData (.h5ad) of labelled cells; got {type(ref).__name__}", field="--reference"
                )
            result, output_rows, notes = combine_reference_query(
                ref,
                first,
                data_keys,
                names=(_named("reference", reference), _named("query", data)),
            )
    elif kind == "modalities":
        if isinstance(first, Modalities):
            if data2 is not None:
                raise DanceInputError(
                    f"--data already holds both modalities ({first.names[0]}, {first.names[1]}); drop --data2", field="--data2"
                )
            result = first
            if isinstance(data, (str, Path)) and is_h5mu(Path(data).expanduser()):
                # the default pair is chosen by name: say which, so a surprising choice is seen
                how = "chosen" if modalities is not None else "by default; --mod1/--mod2 choose others"
                available = ", ".join(h5mu_modality_names(Path(data).expanduser()))
                notes["modalities"] = f"mod1 {first.names[0]}, mod2 {first.names[1]} of {available} ({how})"
        else:
            second = load(data2) if data2 is not None else None
            if not (isinstance(first, AnnData) and isinstance(second, AnnData)):
                raise DanceInputError(
                    f"task '{task.name}' takes two modalities: --data A.h5ad --data2 B.h5ad, or one .h5mu file", field="data2"
                )
            result = Modalities(first, second)
        if solution is not None:
            from dance.core.data.solutions import merge_solution

            truth = load(solution)
            if not isinstance(truth, AnnData):
                raise DanceInputError(f"--solution must be one AnnData (.h5ad); got {type(truth).__name__}", field="--solution")
            result, merged = merge_solution(task.name, result, truth, data_keys, source=_named("the solution", solution))
            notes.update(merged)
        result = _align_modalities(result, task)
        used = None if tuple(result.names) == PLACEHOLDER_NAMES else (str(result.names[0]), str(result.names[1]))
    else:
        ref = load(reference) if reference is not None else None
        if isinstance(first, SpotsAndReference):
            result = first
        elif isinstance(first, AnnData) and isinstance(ref, AnnData):
            result = SpotsAndReference(first, ref)
        else:
            raise DanceInputError(
                f"task '{task.name}' takes spots and a reference: --data spots.h5ad --reference cells.h5ad", field="reference"
            )
    described = ", ".join(map(str, named)) or type(result).__name__
    return ResolvedInput(result, None, files, described, modalities=used, output_rows=output_rows, notes=notes, named=named)


def _from_dataset(
    spec: DatasetSpec,
    task: TaskSpec,
    registry: Registry,
    download: bool,
    loader: Any = None,
    modalities: tuple[str | None, str | None] | None = None,
) -> ResolvedInput:
    from dance.core.data import load_dataset
    from dance.core.data.fetch import fetch_dataset

    paths = list(fetch_dataset(spec, download=download).values())
    data = (loader or load_dataset)(spec.name, task.name, download=download, registry=registry)
    used = None
    notes: dict[str, Any] = {}
    if isinstance(data, Modalities):
        if modalities is not None:
            data = orient_modalities(data, modalities, source=f"dataset '{spec.name}'")
            notes["modalities"] = f"mod1 {data.names[0]}, mod2 {data.names[1]} (chosen)"
        data = _align_modalities(data, task)
        used = None if tuple(data.names) == PLACEHOLDER_NAMES else (str(data.names[0]), str(data.names[1]))
    return ResolvedInput(data, spec, paths, f"dataset '{spec.name}'", dict(spec.keys), modalities=used, notes=notes)


def orient_modalities(data: Modalities, modalities: tuple[str | None, str | None], *, source: str) -> Modalities:
    """``data`` with ``modalities = (mod1, mod2)`` (either may be None) in those roles: a dataset's
    pair in the other direction (``--mod1 adt --mod2 rna`` predicts RNA from protein).

    The annotations a loader keeps on ``mod1`` (cell types, batches, the train/test split) move
    with the role, so the swapped pair is scored and split exactly as the original one.
    """
    available = (str(data.names[0]), str(data.names[1]))
    for flag, wanted in zip(("--mod1", "--mod2"), modalities, strict=True):
        if wanted is not None and wanted not in available:
            raise DanceInputError(f"{flag} '{wanted}': {source} has the modalities {', '.join(available)}", field=flag)
    first, second = modalities
    if first is not None and first == second:
        raise DanceInputError(f"--mod1 and --mod2 are both '{first}'; name two different modalities of {source}", field="--mod2")
    swap = first == available[1] or second == available[0]
    if not swap:
        return data
    new1, new2 = data.mod2.copy(), data.mod1.copy()
    if data.paired:
        for column in new2.obs.columns:
            if column not in new1.obs.columns:
                new1.obs[column] = new2.obs[column].to_numpy()
    return Modalities(new1, new2, (available[1], available[0]))
