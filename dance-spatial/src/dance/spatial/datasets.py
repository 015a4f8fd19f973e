"""Datasets of dance-spatial: specs only (plain data, nothing imported)."""

from __future__ import annotations

from dance.core.specs import DataFile, DatasetSpec

LOADERS = "dance.spatial.loaders"
EMBEDDED = "dance.spatial.data"
SPACEXR = "https://github.com/dmcable/spacexr/tree/744153c6/inst/extdata"
RCTD = "Cable et al. (2022) Robust decomposition of cell type mixtures in spatial transcriptomics. Nat Biotechnol 40:517-526"


def _local(path: str, sha256: str, size: int, source: str, package: str | None = None) -> DataFile:
    return DataFile(path=path, sha256=sha256, source=source, size=size, package=package)


PSEUDO = (
    "Built with dance.spatial.pseudospots from real labelled cells: the cells are split in half by type (seed 0); one half "
    "is pooled into pseudo-spots whose true proportions are known, the other half is the reference."
)
DSTG_PROTOCOL = "DSTG protocol: each spot pools 2-8 random cells (no spatial structure)."
GRID_PROTOCOL = (
    "Grid protocol (CARD/SPOTlight-style synthetic design): 400 spots on a 20 x 20 grid, 5 spatial domains each dominated "
    "by one cell type with smooth transitions, 5-15 cells per spot drawn with the local composition (Dirichlet noise)."
)
CBMC = DataFile(
    path="multimodal/CITE_CBMC_counts_top2000.h5",
    sha256="68f36cd64729b1ee853fe5f760dbc0a9238d52a18a8a076742883379cce98e9f",
    url="https://github.com/ttgump/scDCC/raw/142e4e03/data/CITE_PBMC/CITE_CBMC_counts_top2000.h5",
    size=2258340,
)
CBMC_CITATION = "Stoeckius et al. (2017) Simultaneous epitope and transcriptome measurement in single cells. Nat Methods 14:865-868"
HIPPOCAMPUS_REF = _local(
    "spatial/spacexr_ref_visium_testes.h5ad",
    "bd8778ea7351f7fc2252c84bd5d416b2f91738e4ee7390b378108e534a6a16f9",
    197093,
    f"{SPACEXR}/Reference/Visium_testes",
)

# The 12 DLPFC Visium sections of spatialLIBD (Maynard et al. 2021): counts from spatialLIBD's AWS bucket,
# positions and scale factors from the LieberInstitute/HumanPilot repository, manual layer annotation from
# its barcode_level_layer_map.tsv. Upstream publishes no checksums: hashes are pinned at first download.
DLPFC_SAMPLES = ("151507", "151508", "151509", "151510", "151669", "151670", "151671", "151672", "151673", "151674", "151675", "151676")
DLPFC_S3 = "https://spatial-dlpfc.s3.us-east-2.amazonaws.com"
HUMANPILOT = "https://raw.githubusercontent.com/LieberInstitute/HumanPilot"
DLPFC_LAYERS = DataFile(
    path="spatial/dlpfc/barcode_level_layer_map.tsv",
    url=f"{HUMANPILOT}/5dc52dc562893754c1db263479c573a3c3292609/10X/barcode_level_layer_map.tsv",
)
DLPFC_CITATION = (
    "Maynard et al. (2021) Transcriptome-scale spatial gene expression in the human dorsolateral prefrontal cortex. Nat Neurosci 24:425-436"
)


def _dlpfc(sample: str) -> DatasetSpec:
    layers = "5 layers (L3-L6, WM)" if sample in ("151669", "151670", "151671", "151672") else "7 layers (L1-L6, WM)"
    pilot = f"{HUMANPILOT}/39ed906fad38095e3d7005e1b47f48c00b846371/10X/{sample}"
    return DatasetSpec(
        name=f"dlpfc_{sample}",
        summary=f"Human DLPFC Visium section {sample} (spatialLIBD), manually annotated cortical layers: {layers}",
        target=f"{LOADERS}:load_dlpfc",
        tasks=("spatial_domain",),
        description=(
            "10x Visium, filtered counts of 33,538 genes, full-resolution pixel coordinates, hires image and scale factors; "
            "obs['layer'] holds the manual annotation of Maynard et al. (spots without one are not scored). Download only."
        ),
        citation=DLPFC_CITATION,
        files=(
            DataFile(
                path=f"spatial/dlpfc/{sample}_filtered_feature_bc_matrix.h5", url=f"{DLPFC_S3}/h5/{sample}_filtered_feature_bc_matrix.h5"
            ),
            DataFile(path=f"spatial/dlpfc/{sample}_tissue_positions_list.txt", url=f"{pilot}/tissue_positions_list.txt"),
            DataFile(path=f"spatial/dlpfc/{sample}_scalefactors_json.json", url=f"{pilot}/scalefactors_json.json"),
            DataFile(path=f"spatial/dlpfc/{sample}_tissue_hires_image.png", url=f"{DLPFC_S3}/images/{sample}_tissue_hires_image.png"),
            DLPFC_LAYERS,
        ),
        shape="3,460-4,789 spots x 33,538 genes",
        keys={"label_key": "layer"},
    )


CEREBELLUM_REF = _local(
    "spatial/spacexr_ref_cerebellum.h5ad",
    "3e419bd8821e552fc7bbe50917032044a09bb9dcae8043dee7c6a6f4b76a6991",
    259639,
    f"{SPACEXR}/Reference/Vignette",
    EMBEDDED,
)

DATASETS: tuple[DatasetSpec, ...] = (
    *(_dlpfc(sample) for sample in DLPFC_SAMPLES),
    DatasetSpec(
        name="mouse_olfactory_bulb",
        summary="Mouse olfactory bulb, Spatial Transcriptomics (Stahl 2016): 262 spots, 5 annotated layers",
        target=f"{LOADERS}:load_mouse_olfactory_bulb",
        tasks=("spatial_domain",),
        default_for=("spatial_domain",),
        description="Raw counts of 15,928 genes; obs['layer'] holds the annotated layer of each spot (2 spots unannotated).",
        citation="Stahl et al. (2016) Visualization and analysis of gene expression in tissue sections by spatial transcriptomics. Science 353:78-82",
        files=(
            _local(
                "spatial/STdeconvolve_mOB.h5ad",
                "edbddd2aeeac27b03fea4a4c4ddef55918b61f7db77dc13eff71a8999ccdf557",
                3407906,
                "https://github.com/JEFworks-Lab/STdeconvolve/raw/c79bdaa9/data/mOB.rda",
                EMBEDDED,
            ),
        ),
        shape="262 spots x 15928 genes",
        keys={"label_key": "layer"},
    ),
    DatasetSpec(
        name="cerebellum_pseudospots",
        summary="300 pseudo-spots (2-8 cells, DSTG protocol) pooled from half of the RCTD cerebellum reference; other half = reference",
        target=f"{LOADERS}:load_pseudospots",
        tasks=("cell_type_deconvolution",),
        default_for=("cell_type_deconvolution",),
        description=(
            "Built with dance.spatial.pseudospots from real labelled cells (mouse cerebellum single-nucleus reference of the "
            "RCTD vignette, 475 cells, 19 types): the cells are split in half by type (seed 0); one half is pooled into "
            "pseudo-spots whose true proportions are known, the other half is the reference."
        ),
        citation=RCTD,
        files=(CEREBELLUM_REF,),
        shape="300 spots x 384 genes; reference ~240 cells",
    ),
    DatasetSpec(
        name="cerebellum_grid_pseudospots",
        summary="400 grid pseudo-spots with spatially smooth proportions pooled from half of the RCTD cerebellum reference",
        target=f"{LOADERS}:load_grid_pseudospots",
        tasks=("cell_type_deconvolution",),
        description=f"{PSEUDO} {GRID_PROTOCOL} Cells: mouse cerebellum single-nucleus reference of the RCTD vignette (475 cells, 19 types).",
        citation=RCTD,
        files=(CEREBELLUM_REF,),
        shape="400 spots x 384 genes; reference ~240 cells",
    ),
    DatasetSpec(
        name="cbmc_pseudospots",
        summary="1,000 pseudo-spots (2-8 cells, DSTG protocol) pooled from half of the CBMC CITE-seq cells; other half = reference",
        target=f"{LOADERS}:load_cbmc_pseudospots",
        tasks=("cell_type_deconvolution",),
        description=f"{PSEUDO} {DSTG_PROTOCOL} Cells: cord-blood mononuclear cells (CITE-seq RNA, 8,617 cells, 2,000 genes, 15 types).",
        citation=CBMC_CITATION,
        files=(CBMC,),
        shape="1000 spots x 2000 genes; reference ~4,300 cells",
    ),
    DatasetSpec(
        name="cbmc_grid_pseudospots",
        summary="400 grid pseudo-spots with spatially smooth proportions pooled from half of the CBMC CITE-seq cells",
        target=f"{LOADERS}:load_cbmc_grid_pseudospots",
        tasks=("cell_type_deconvolution",),
        description=f"{PSEUDO} {GRID_PROTOCOL} Cells: cord-blood mononuclear cells (CITE-seq RNA, 8,617 cells, 2,000 genes, 15 types).",
        citation=CBMC_CITATION,
        files=(CBMC,),
        shape="400 spots x 2000 genes; reference ~4,300 cells",
    ),
    DatasetSpec(
        name="hippocampus_grid_pseudospots",
        summary="400 grid pseudo-spots with spatially smooth proportions pooled from half of spacexr's Visium example reference",
        target=f"{LOADERS}:load_grid_pseudospots",
        tasks=("cell_type_deconvolution",),
        description=(
            f"{PSEUDO} {GRID_PROTOCOL} Cells: the single-cell reference of the RCTD (spacexr) Visium vignette, mouse hippocampus "
            "(510 cells, 17 types, 307 genes)."
        ),
        citation=RCTD,
        files=(HIPPOCAMPUS_REF,),
        shape="400 spots x 307 genes; reference ~255 cells",
    ),
    DatasetSpec(
        name="dstg_synthetic",
        summary="DSTG synthetic spots (GSE72056 melanoma cells): 1,000 test spots with truth + 1,000 pseudo-spot reference",
        target=f"{LOADERS}:load_dstg",
        tasks=("cell_type_deconvolution",),
        description=(
            "DSTG's example: spots pooled from real scRNA-seq (5 types). Example 1 is deconvolved (truth in obsm['proportions']); "
            "example 0, pseudo-spots with known proportions, is the reference. Values are normalised, not counts."
        ),
        citation="Song & Su (2021) DSTG: deconvoluting spatial transcriptomics data through graph-based artificial intelligence. Brief Bioinform 22:bbaa414",
        files=(
            _local(
                "spatial/DSTG_example_0.h5ad",
                "f7755b9efb85be9c046a6f6231154bdfdde32c7ce66c836e13cab999f7a8dbb6",
                1504951,
                "https://github.com/Su-informatics-lab/DSTG/tree/4a2f958a/DSTG/synthetic_data",
            ),
            _local(
                "spatial/DSTG_example_1.h5ad",
                "e96033c368c15805095c3b9936f1da6ab8e4751b9d20b64c84e2f155b610fca2",
                1533617,
                "https://github.com/Su-informatics-lab/DSTG/tree/4a2f958a/DSTG/synthetic_data",
            ),
        ),
        shape="1000 spots x 500 genes",
    ),
    DatasetSpec(
        name="rctd_cerebellum_slideseq",
        summary="RCTD vignette: 100 Slide-seq cerebellum beads + 19-type single-nucleus reference (no truth)",
        target=f"{LOADERS}:load_spots_and_reference",
        tasks=("cell_type_deconvolution",),
        citation=RCTD,
        files=(
            _local(
                "spatial/spacexr_slideseq_cerebellum.h5ad",
                "9c213f99889736920ce668ed40965ba053fa4822afef931cfbc4fcd5cc684423",
                65538,
                f"{SPACEXR}/SpatialRNA/Vignette",
            ),
            CEREBELLUM_REF.model_copy(update={"package": None}),
        ),
        shape="100 beads x 378 genes",
    ),
    DatasetSpec(
        name="rctd_merfish",
        summary="RCTD MERFISH example: 750 cells + 14-type reference (no truth)",
        target=f"{LOADERS}:load_spots_and_reference",
        tasks=("cell_type_deconvolution",),
        citation=RCTD,
        files=(
            _local(
                "spatial/spacexr_spatial_merfish.h5ad",
                "f434e026a018bca9af8b7093f09c092f86b576b1113501c3c5cf71b224b9cf42",
                192017,
                f"{SPACEXR}/SpatialRNA/MERFISH",
            ),
            _local(
                "spatial/spacexr_ref_merfish.h5ad",
                "ec99ccd5df6af585cf99e0041f4d387a65b47ff1b9a0f52733e18492b31cf4d7",
                133875,
                f"{SPACEXR}/Reference/MERFISH",
            ),
        ),
        shape="750 cells x 134 genes",
    ),
    DatasetSpec(
        name="rctd_visium_testes",
        summary="RCTD Visium testes example: 313 spots + reference (no truth)",
        target=f"{LOADERS}:load_spots_and_reference",
        tasks=("cell_type_deconvolution",),
        citation=RCTD,
        files=(
            _local(
                "spatial/spacexr_spatial_visium_testes.h5ad",
                "56cec543fff1ee7a0128181157cba157d0d43e13444ec6088dd0090ab9910906",
                188234,
                f"{SPACEXR}/SpatialRNA/Visium_testes",
            ),
            HIPPOCAMPUS_REF,
        ),
        shape="313 spots x 276 genes",
    ),
    DatasetSpec(
        name="card_pdac",
        summary="Human pancreatic ductal adenocarcinoma, Spatial Transcriptomics (CARD example): 428 spots, no annotation",
        target=f"{LOADERS}:load_spots",
        tasks=("spatial_domain",),
        description="Raw counts of 25,753 genes with coordinates; no annotated domains, so runs report no metric.",
        citation="Moncada et al. (2020) Integrating microarray-based spatial transcriptomics and single-cell RNA-seq reveals tissue architecture in pancreatic ductal adenocarcinomas. Nat Biotechnol 38:333-342",
        files=(
            _local(
                "spatial/CARD_PDAC_spatial.h5ad",
                "ac9846bf2431788134b765e346c4e4bc5a3bafe269cf6b08edd81e191d4ddf38",
                2112830,
                "https://github.com/YingMa0107/CARD/tree/fffffab5/data",
            ),
        ),
        shape="428 spots x 25753 genes",
    ),
    DatasetSpec(
        name="visium_tiny",
        summary="A tiny real 10x Visium Space Ranger output folder (squidpy's test data), 49 spots",
        target=f"{LOADERS}:load_visium_folder",
        tasks=("spatial_domain",),
        description="filtered_feature_bc_matrix.h5, tissue_positions_list.csv (Space Ranger < 2.0 layout) and scalefactors_json.json.",
        citation="Palla et al. (2022) Squidpy: a scalable framework for spatial omics analysis. Nat Methods 19:171-178",
        files=(
            _local(
                "spatial/visium_tiny_10x/filtered_feature_bc_matrix.h5",
                "9b6cb386df8327ea7aec1d3ea87c73bac766dbf9b03003d70154c024c61f855a",
                35962,
                "https://github.com/scverse/squidpy/tree/be17fcf6/tests/_data",
            ),
            DataFile(
                path="spatial/visium_tiny_10x/tissue_positions_list.csv",
                sha256="4a3233fee509e56dcd5680f6fb6edeb9373d46a1e47fd5f9af3c90e2c34e1752",
                url="https://github.com/scverse/squidpy/raw/be17fcf6/tests/_data/spatial/tissue_positions_list.csv",
                size=3737,
            ),
            _local(
                "spatial/visium_tiny_10x/scalefactors_json.json",
                "569586afb623a0aa90aaa7997894d954ea4242e5796e9fedfed4826f6be349dc",
                179,
                "https://github.com/scverse/squidpy/tree/be17fcf6/tests/_data/spatial",
            ),
        ),
        shape="100 spots x 100 genes",
    ),
)
