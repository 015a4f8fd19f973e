"""Choosing the two modalities of an .h5mu file (--mod1 / --mod2, and the task's usual pair)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dance.core.data.inputs import resolve_input
from dance.core.data.readers import choose_modalities, h5mu_modality_names, read_any
from dance.core.errors import DanceInputError
from dance.core.testing import synthetic_data

CITEFUSE = "multimodal/CiteFuse_CITEseq_example.h5mu"


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (["RNA", "ADT", "HTO"], ("RNA", "ADT")),
        (["HTO", "ADT", "RNA"], ("RNA", "ADT")),  # by name, not by position
        (["Gene Expression", "Antibody Capture"], ("Gene Expression", "Antibody Capture")),
        (["ATAC", "gex"], ("gex", "ATAC")),
        (["rna", "atac", "prot"], ("rna", "prot")),  # protein preferred over ATAC
        (["Peaks", "gene_expression"], ("gene_expression", "Peaks")),
    ],
)
def test_the_usual_pair_is_chosen_by_name(available, expected):
    assert choose_modalities(available) == expected


def test_named_modalities_match_case_insensitively():
    assert choose_modalities(["RNA", "ADT", "HTO"], None, "hto") == ("RNA", "HTO")
    assert choose_modalities(["RNA", "ADT", "HTO"], "adt", "rna") == ("ADT", "RNA")


def test_an_unknown_name_lists_the_modalities():
    with pytest.raises(DanceInputError, match=r"--mod2 'protein': x.h5mu has no such modality \(its modalities: RNA, ADT, HTO\)") as info:
        choose_modalities(["RNA", "ADT", "HTO"], None, "protein", source="x.h5mu")
    assert info.value.field == "--mod2"


def test_no_sensible_default_asks_for_both_options():
    with pytest.raises(DanceInputError, match=r"x.h5mu has modalities A, B and none is an RNA modality.*pass --mod1 NAME --mod2 NAME"):
        choose_modalities(["A", "B"], source="x.h5mu")
    with pytest.raises(DanceInputError, match=r"none besides 'ADT' \(--mod1\) is a protein .* to use as --mod2"):
        choose_modalities(["RNA", "ADT", "HTO"], "ADT", None)


def test_the_same_modality_twice_is_refused():
    with pytest.raises(DanceInputError, match=r"both name modality 'RNA'"):
        choose_modalities(["RNA", "ADT"], "RNA", "rna")


def write_h5mu(path, modalities: dict) -> None:
    """A minimal MuData file (the layout mudata writes), made without mudata."""
    from anndata.io import write_elem

    with h5py.File(path, "w") as handle:
        group = handle.create_group("mod")
        for name, adata in modalities.items():
            write_elem(group, name, adata)
        group.attrs["mod-order"] = np.array(list(modalities), dtype=object).astype("S")


def test_a_10x_multiome_style_file(tmp_path, make_registry):
    data = synthetic_data("multiomics_integration")
    path = tmp_path / "multiome.h5mu"
    write_h5mu(path, {"Peaks": data.mod2, "Gene Expression": data.mod1})
    assert h5mu_modality_names(path) == ["Peaks", "Gene Expression"]
    registry = make_registry()
    resolved = resolve_input(registry.get_task("joint_embedding"), str(path), registry=registry)
    assert resolved.modalities == ("Gene Expression", "Peaks") and resolved.data.mod1.n_vars == data.mod1.n_vars


def test_real_citeseq_file_default_and_chosen_pairs(shared_data, make_registry):
    registry = make_registry()
    task = registry.get_task("joint_embedding")
    path = str(shared_data / CITEFUSE)
    default = resolve_input(task, path, registry=registry)
    assert default.modalities == ("RNA", "ADT") and default.data.mod2.n_vars == 49
    assert default.notes["modalities"] == "mod1 RNA, mod2 ADT of RNA, ADT, HTO (by default; --mod1/--mod2 choose others)"
    hashtags = resolve_input(task, path, modalities=(None, "HTO"), registry=registry)
    assert hashtags.modalities == ("RNA", "HTO") and hashtags.data.mod2.n_vars == 4 and hashtags.data.paired
    assert hashtags.notes["modalities"].endswith("(chosen)")
    with pytest.raises(DanceInputError, match=r"--mod2 'protein'.*its modalities: RNA, ADT, HTO"):
        resolve_input(task, path, modalities=(None, "protein"), registry=registry)


def test_modalities_of_two_h5ad_files_are_refused(tmp_path, make_registry):
    data = synthetic_data("joint_embedding")
    data.mod1.write_h5ad(tmp_path / "rna.h5ad")
    data.mod2.write_h5ad(tmp_path / "adt.h5ad")
    registry = make_registry()
    with pytest.raises(
        DanceInputError, match=r"--mod1/--mod2 choose the modalities of an .h5mu file; .*rna.h5ad is a '.h5ad' file"
    ) as info:
        resolve_input(
            registry.get_task("joint_embedding"),
            str(tmp_path / "rna.h5ad"),
            data2=str(tmp_path / "adt.h5ad"),
            modalities=("rna", None),
            registry=registry,
        )
    assert info.value.field == "--mod1"
    two_files = resolve_input(
        registry.get_task("joint_embedding"), str(tmp_path / "rna.h5ad"), data2=str(tmp_path / "adt.h5ad"), registry=registry
    )
    assert two_files.modalities is None  # two files carry no modality names


def test_an_h5mu_with_data2_or_for_a_single_input_task_is_refused(shared_data, tmp_path, make_registry):
    registry = make_registry()
    path = str(shared_data / CITEFUSE)
    extra = tmp_path / "adt.h5ad"
    synthetic_data("joint_embedding").mod2.write_h5ad(extra)
    with pytest.raises(DanceInputError, match=r"--data already holds both modalities \(RNA, ADT\); drop --data2"):
        resolve_input(registry.get_task("joint_embedding"), path, data2=str(extra), registry=registry)
    with pytest.raises(DanceInputError, match=r"task 'clustering' takes one AnnData \(.h5ad\); .* is an .h5mu file"):
        resolve_input(registry.get_task("clustering"), path, registry=registry)


def test_read_any_reads_the_named_pair(shared_data):
    data = read_any(shared_data / CITEFUSE, modalities=("RNA", "HTO"))
    assert data.names == ("RNA", "HTO")
