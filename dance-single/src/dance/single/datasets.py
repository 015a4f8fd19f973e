"""Datasets of dance-single: specs only (plain data, nothing imported).

Files are copies of public files; ``url`` is the exact upstream file (verified by sha256),
``source`` the original a converted file was made from. Set ``DANCE_DATA_DIR`` to a folder
with the same layout (e.g. ``../shared/data`` in this repository) to use local copies.
"""

from __future__ import annotations

from dance.core.specs import DataFile, DatasetSpec

SCDCC = "https://github.com/ttgump/scDCC/raw/142e4e03"
SCDEEPCLUSTER = "https://github.com/ttgump/scDeepCluster/raw/ff7f29d0/scRNA-seq%20data"
OPENPROBLEMS = "https://github.com/openproblems-bio/neurips2021_multimodal_viash/raw/75281c03/resources_test"
HARMONYPY = "https://github.com/slowkow/harmonypy/raw/4d2b63f5"
HARMONY_R = "https://github.com/immunogenomics/harmony/raw/df19af23"
LOADERS = "dance.single.loaders"
EMBEDDED = "dance.single.data"

TIAN_2019 = "Tian et al. (2019) Clustering single-cell RNA-seq data with a model-based deep learning approach. Nat Mach Intell 1:191-198"
HARMONY_2019 = "Korsunsky et al. (2019) Fast, sensitive and accurate integration of single-cell data with Harmony. Nat Methods 16:1289-1296"
NEURIPS_2021 = "Luecken et al. (2021) A sandbox for prediction and integration of DNA, RNA, and proteins in single cells. NeurIPS Datasets and Benchmarks"


def _mca(tissue: str, train: tuple[tuple[str, str, str], ...], test: tuple[str, str, str]) -> DatasetSpec:
    """A Mouse Cell Atlas annotation set in DANCE's (scDeepsort's) CSV layout."""

    def files(split: str, dataset_id: str, data_url: str, label_url: str) -> tuple[DataFile, DataFile]:
        stem = f"mca/{split}/mouse_{tissue}{dataset_id}"
        return (
            DataFile(path=f"{stem}_data.csv", url=data_url),
            DataFile(path=f"{stem}_celltype.csv", url=label_url),
        )

    all_files: list[DataFile] = []
    for dataset_id, data_url, label_url in train:
        all_files.extend(files("train", dataset_id, data_url, label_url))
    all_files.extend(files("test", *test))
    train_cells = "+".join(t[0] for t in train)
    return DatasetSpec(
        name=f"mca_mouse_{tissue.lower()}",
        summary=f"Mouse Cell Atlas {tissue}: train on {train_cells} cells, test on {test[0]} (DANCE / scDeepsort benchmark)",
        target=f"{LOADERS}:load_mca",
        tasks=("cell_type_annotation",),
        description=(
            f"Microwell-seq mouse {tissue.lower()} (Han et al. 2018, Cell 172:1091) in DANCE's layout: per dataset a genes x cells "
            "count CSV and a cell-type CSV (column Cell_type). Training sets are concatenated, test genes aligned to training "
            "genes (missing genes are zero). Upstream publishes no checksums: each file's sha256 is pinned at first download."
        ),
        citation="Shao et al. (2021) scDeepSort: a pre-trained cell-type annotation method for single-cell transcriptomics. Nucleic Acids Res 49:e122",
        files=tuple(all_files),
        shape=f"test {test[0]} cells",
    )


DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="pbmc4k_10x",
        summary="10x PBMC 4K, top 2,000 genes, 8 cell types (DANCE clustering benchmark)",
        target=f"{LOADERS}:load_labelled_h5",
        tasks=("clustering", "imputation", "cell_type_annotation"),
        default_for=("clustering", "imputation"),
        description="10x Genomics PBMC 4K (4,271 cells), raw counts of the 2,000 most variable genes, labels from scDCC.",
        citation=TIAN_2019,
        files=(
            DataFile(
                path="clustering/10X_PBMC_top2000.h5",
                sha256="ec78ead405dfa988d6156c12068b49c0782ca58f5ed52c938d8ba8e8377eb16e",
                url=f"{SCDCC}/data/Small_Datasets/10X_PBMC_top2000.h5",
                size=1486957,
                package=EMBEDDED,
            ),
        ),
        shape="4271 cells x 2000 genes",
    ),
    DatasetSpec(
        name="worm_neuron",
        summary="Worm neuron sci-RNA-seq, top 2,000 genes, 10 types (DANCE clustering benchmark)",
        target=f"{LOADERS}:load_labelled_h5",
        tasks=("clustering", "imputation"),
        description="C. elegans neurons profiled by sci-RNA-seq (Cao et al. 2017, Science 357:661), counts of the top 2,000 genes.",
        citation=TIAN_2019,
        files=(
            DataFile(
                path="clustering/worm_neuron_cell_top2000.h5",
                sha256="7d92027c301ce4e6e5cfe74e0f5bdd0bbb219f282bdbdfee92e62a4981629b24",
                url=f"{SCDCC}/data/Small_Datasets/worm_neuron_cell_top2000.h5",
                size=278988,
            ),
        ),
        shape="4186 cells x 2000 genes",
    ),
    DatasetSpec(
        name="mouse_bladder",
        summary="Mouse bladder Microwell-seq, top genes, 16 types (DANCE clustering benchmark)",
        target=f"{LOADERS}:load_labelled_h5",
        tasks=("clustering", "imputation"),
        description="Mouse bladder cells from the Mouse Cell Atlas (Han et al. 2018, Cell 172:1091), counts of the top 2,003 genes.",
        citation=TIAN_2019,
        files=(
            DataFile(
                path="clustering/mouse_bladder_cell_top2000.h5",
                sha256="2a97282cf325a4b2a63c2b818be82c453007f29838c7280f30dadd01be4501ab",
                url=f"{SCDCC}/data/Small_Datasets/mouse_bladder_cell_top2000.h5",
                size=780023,
            ),
        ),
        shape="2746 cells x 2003 genes",
    ),
    DatasetSpec(
        name="worm_neuron_all_genes",
        summary="Worm neuron sci-RNA-seq, all 13,488 genes, 10 types",
        target=f"{LOADERS}:load_labelled_h5",
        tasks=("clustering", "imputation"),
        description="The full-gene version of worm_neuron from the scDeepCluster repository.",
        citation=TIAN_2019,
        files=(
            DataFile(
                path="clustering/worm_neuron_cell.h5",
                sha256="4f2a3c4b8492bcd11d957a8a74098ba258c271d714718c175854a7c44b1e31e6",
                url=f"{SCDEEPCLUSTER}/worm_neuron_cell.h5",
                size=2658922,
            ),
        ),
        shape="4186 cells x 13488 genes",
    ),
    DatasetSpec(
        name="mouse_bladder_2100",
        summary="Mouse bladder, 2,100 sampled cells, all 20,670 genes, 16 types",
        target=f"{LOADERS}:load_labelled_h5",
        tasks=("clustering", "imputation"),
        description=(
            "2,100 cells sampled from the Microwell-seq mouse bladder set, all genes (scDeepCluster repository). For "
            "imputation the 1,591 genes without counts in these cells are dropped (19,079 kept)."
        ),
        citation=TIAN_2019,
        files=(
            DataFile(
                path="clustering/mouse_bladder_cell_select_2100.h5",
                sha256="4e686932884fc04d8bc9a92dad1a648d6e23f490b0c106903bca95d68093f591",
                url=f"{SCDEEPCLUSTER}/mouse_bladder_cell_select_2100.h5",
                size=4175513,
            ),
        ),
        shape="2100 cells x 20670 genes",
    ),
    DatasetSpec(
        name="bmmc_cite_gex",
        summary="NeurIPS 2021 BMMC CITE-seq starter, gene expression: donor s1d1 (train) vs s1d2 (test), 41 types",
        target=f"{LOADERS}:load_bmmc_gex",
        tasks=("cell_type_annotation", "batch_integration", "clustering"),
        default_for=("cell_type_annotation", "batch_integration"),
        description=(
            "Bone-marrow mononuclear cells (CITE-seq GEX, 1,000 genes) of two donors. Annotation: train on donor s1d1, "
            "test on s1d2 (cross-donor). Batch integration: the donor is the batch. Raw counts in layers['counts']."
        ),
        citation=NEURIPS_2021,
        files=(
            DataFile(
                path="multimodal/openproblems_bmmc/common/openproblems_bmmc_cite_starter.output_rna.h5ad",
                sha256="e111b6ad48f7236b9291dab56d0aa2ebcc1a5f8d1d402fa232d9bfe3d1af6f61",
                url=f"{OPENPROBLEMS}/common/openproblems_bmmc_cite_starter/openproblems_bmmc_cite_starter.output_rna.h5ad",
                size=1578699,
                package=EMBEDDED,
            ),
        ),
        shape="600 cells x 1000 genes",
    ),
    DatasetSpec(
        name="cbmc_citeseq",
        summary="CBMC CITE-seq (Stoeckius 2017), top 2,000 genes, 15 types; stratified split",
        target=f"{LOADERS}:load_labelled_h5",
        tasks=("cell_type_annotation", "clustering", "imputation"),
        description=(
            "Cord-blood mononuclear cells, RNA counts of 2,000 genes (protein counts in obsm['ADT_X'], dropped for imputation), "
            "labels from scDCC."
        ),
        citation="Stoeckius et al. (2017) Simultaneous epitope and transcriptome measurement in single cells. Nat Methods 14:865-868",
        files=(
            DataFile(
                path="multimodal/CITE_CBMC_counts_top2000.h5",
                sha256="68f36cd64729b1ee853fe5f760dbc0a9238d52a18a8a076742883379cce98e9f",
                url=f"{SCDCC}/data/CITE_PBMC/CITE_CBMC_counts_top2000.h5",
                size=2258340,
            ),
        ),
        shape="8617 cells x 2000 genes",
    ),
    DatasetSpec(
        name="pbmc68k_reduced",
        summary="scanpy's pbmc68k_reduced: 700 PBMCs, log-normalised, 10 bulk labels; stratified split",
        target=f"{LOADERS}:load_pbmc68k_reduced",
        tasks=("cell_type_annotation", "clustering"),
        description=(
            "A 700-cell subset of 10x PBMC 68k shipped inside scanpy. Only log-normalised values (.raw) are available, "
            "so models needing raw counts cannot run on it; cell types from obs['bulk_labels']."
        ),
        citation="Zheng et al. (2017) Massively parallel digital transcriptional profiling of single cells. Nat Commun 8:14049",
        files=(
            DataFile(
                path="scanpy/10x_pbmc68k_reduced.h5ad",
                sha256="e71d41e737c941559b7c57c9243bdb3d2c889c2adfdf00e3422ac6b46783676f",
                url="https://github.com/scverse/scanpy/raw/1.11.5/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
                size=1772368,
                package="scanpy.datasets",
            ),
        ),
        shape="700 cells x 765 genes",
    ),
    DatasetSpec(
        name="kang_pbmc_stim",
        summary="Kang 2018 PBMC control vs IFN-beta stimulated; batch = condition (no cell types)",
        target=f"{LOADERS}:load_kang",
        tasks=("batch_integration",),
        description="2,000 PBMCs (counts, 9,015 genes) from the Harmony repository; obs['batch'] is the stimulation condition.",
        citation="Kang et al. (2018) Multiplexed droplet single-cell RNA-sequencing using natural genetic variation. Nat Biotechnol 36:89-94",
        files=(
            DataFile(
                path="integration/harmony_pbmc_stim.h5ad",
                sha256="84a71f756277595474fefb3060dcf63e138708e05cc3e811e85efeb8e78f3c94",
                source="https://github.com/immunogenomics/harmony/raw/df19af23/data/pbmc_stim.RData",
                size=3124578,
            ),
        ),
        shape="2000 cells x 9015 genes",
    ),
    DatasetSpec(
        name="harmonypy_pbmc_3500",
        summary="harmonypy's test data: 3,500 PBMCs from 3 donors as 30 PCs (no cell types); batch = donor",
        target=f"{LOADERS}:load_harmonypy_pbmc",
        tasks=("batch_integration",),
        description=(
            "The PCA embedding (30 PCs) and donor of 3,500 PBMCs that harmonypy tests itself on. X and obsm['X_pca'] hold the "
            "PCs and uns['dance_embedding'] = 'X_pca' declares them an embedding, so integration models take them as is "
            "(use_rep='X_pca'). Cell barcodes repeat across donors and are prefixed with the donor. No cell types: only "
            "batch-mixing metrics can be scored."
        ),
        citation=HARMONY_2019,
        files=(
            DataFile(
                path="integration/pbmc_3500_pcs.tsv.gz",
                sha256="29a2c9640dfccebb59a2673ce07ed2a394530f287e518a15a11a35f00fd93d17",
                url=f"{HARMONYPY}/data/pbmc_3500_pcs.tsv.gz",
                size=956593,
            ),
            DataFile(
                path="integration/pbmc_3500_meta.tsv.gz",
                sha256="4154245890ab9bdb69b439d62d216331553570c1e87fb574ec575ece4c56f6e7",
                url=f"{HARMONYPY}/data/pbmc_3500_meta.tsv.gz",
                size=14043,
            ),
        ),
        shape="3500 cells x 30 PCs",
    ),
    DatasetSpec(
        name="harmony_cell_lines",
        summary="Jurkat / 293T / 50:50 mix in 3 batches as 20 PCs (Harmony paper figure 2); 2 cell types",
        target=f"{LOADERS}:load_harmony_cell_lines",
        tasks=("batch_integration",),
        description=(
            "The cell-line benchmark of the Harmony paper: 2,370 cells of three 10x experiments (pure Jurkat, pure 293T, "
            "a 50:50 mixture) as 20 PCs, with the experiment as batch and the cell line as cell type. X and obsm['X_pca'] "
            "hold the PCs; uns['dance_embedding'] = 'X_pca' declares them an embedding (use_rep='X_pca')."
        ),
        citation=HARMONY_2019,
        files=(
            DataFile(
                path="integration/harmony_cell_lines_pcs.h5ad",
                sha256="91a82ae9eadbe7ada5d0e54bebdc94ba16c41aa18d2313f9a20660657acbcc91",
                source=f"{HARMONY_R}/data/cell_lines.rda",
                size=417443,
            ),
        ),
        shape="2370 cells x 20 PCs",
    ),
    DatasetSpec(
        name="cite_pbmc10k_rna",
        summary="10x PBMC 10k CITE-seq, RNA counts only (1,000 genes), 5 types; for imputation",
        target=f"{LOADERS}:load_rna_counts_h5ad",
        tasks=("imputation",),
        description=(
            "The RNA counts of dance-multi's cite_pbmc10k (10x Genomics pbmc_10k_protein_v3): 6,661 cells x 1,000 genes, "
            "cell types from ADTnorm's annotation in obs['cell_type'] (its 'undefined' and 'unmatched' cells are unlabelled); "
            "302 genes have no recovered name."
        ),
        citation="10x Genomics (2019) 10k PBMCs from a healthy donor, gene expression and cell surface protein (v3 chemistry)",
        files=(
            DataFile(
                path="multimodal/cite_pbmc10k/pbmc10k_protein_v3_rna.h5ad",
                sha256="6c93960316f9a802e86f4afed2bb19dfe8c1ab7184555edcbf2f0af5c1b3e023",
                source="https://github.com/xianglin226/scMDC/blob/5f354593/datasets/10XPBMC_filtered_1000G.H5",
                size=2289611,
            ),
        ),
        shape="6661 cells x 1000 genes",
    ),
    DatasetSpec(
        name="snareseq_chen2019_rna",
        summary="SNARE-seq adult mouse cortex (Chen 2019), RNA counts only (1,677 genes), 23 types; for imputation",
        target=f"{LOADERS}:load_rna_counts_h5ad",
        tasks=("imputation",),
        description=(
            "The RNA counts of dance-multi's snareseq_chen2019 (GEO GSE126074, AdBrainCortex; the genes scMoMaT selected): "
            "10,309 cells x 1,677 genes, Chen's 23 cell types in obs['cell_type'], 12 library batches in obs['batch']."
        ),
        citation="Chen, Lake & Zhang (2019) High-throughput sequencing of the transcriptome and chromatin accessibility in the same cell. Nat Biotechnol 37:1452-1457",
        files=(
            DataFile(
                path="multimodal/snareseq_chen2019/snareseq_chen2019_rna.h5ad",
                sha256="24e66f3563d289f79d97f4d3c580deaa33680c1c189ebf652ab1d995a031f35b",
                source="https://github.com/PeterZZQ/scMoMaT/tree/dbd954de/data/real/MOp_5batches",
                size=3059093,
            ),
        ),
        shape="10309 cells x 1677 genes",
    ),
    DatasetSpec(
        name="mouse_brain_10k_v3",
        summary="10x mouse brain neurons 10k v3 (DANCE's imputation 'mouse_brain_data'), all genes, no labels; download",
        target=f"{LOADERS}:load_10x_h5_counts",
        tasks=("imputation",),
        description=(
            "Cell Ranger 3.0 filtered matrix of 10x Genomics' neuron_10k_v3 (E18 mouse cortex, hippocampus and ventricular "
            "zone; about 11,800 cells x 31,053 genes), the file DANCE's ImputationDataset reads as mouse_brain_data. Genes "
            "without counts are dropped. No cell types, so only the entry metrics are scored. Not available offline; 10x "
            "publishes no sha256, so the file's hash is pinned at first download."
        ),
        citation="10x Genomics (2018) 10k brain cells from an E18 mouse (v3 chemistry)",
        files=(
            DataFile(
                path="imputation/neuron_10k_v3_filtered_feature_bc_matrix.h5",
                url="https://cf.10xgenomics.com/samples/cell-exp/3.0.0/neuron_10k_v3/neuron_10k_v3_filtered_feature_bc_matrix.h5",
            ),
        ),
        shape="about 11,800 cells x 31,053 genes (before dropping genes without counts)",
    ),
    DatasetSpec(
        name="mouse_embryo_klein2015",
        summary="Mouse ES cells after LIF withdrawal, inDrop (Klein 2015, GSE65525; DANCE's 'mouse_embryo_data'); download",
        target=f"{LOADERS}:load_klein_es",
        tasks=("imputation",),
        description=(
            "The four count tables DANCE's ImputationDataset reads as mouse_embryo_data: mouse embryonic stem cells at day 0 "
            "(main library) and days 2, 4 and 7 after LIF withdrawal (about 2,700 cells x 24,175 genes), genes x cells CSVs "
            "from GEO, stacked. obs['cell_type'] is the day, the grouping clustering benchmarks (SC3, SIMLR) score against. "
            "Genes without counts are dropped. Not available offline; GEO publishes no sha256, so each file's hash is pinned "
            "at first download."
        ),
        citation="Klein et al. (2015) Droplet barcoding for single-cell transcriptomics applied to embryonic stem cells. Cell 161:1187-1201",
        files=tuple(
            DataFile(
                path=f"imputation/GSE65525/{name}",
                url=f"https://ftp.ncbi.nlm.nih.gov/geo/samples/GSM1599nnn/{name.split('_')[0]}/suppl/{name}",
            )
            for name in (
                "GSM1599494_ES_d0_main.csv.bz2",
                "GSM1599497_ES_d2_LIFminus.csv.bz2",
                "GSM1599498_ES_d4_LIFminus.csv.bz2",
                "GSM1599499_ES_d7_LIFminus.csv.bz2",
            )
        ),
        shape="about 2,700 cells x 24,175 genes",
    ),
    _mca(
        "Brain",
        (
            ("3285", "https://www.dropbox.com/s/zjrloejx8iqdqsa?dl=1", "https://www.dropbox.com/s/ozsobozk3ihkrqg?dl=1"),
            ("753", "https://www.dropbox.com/s/3f3wbplgo3xa4ww?dl=1", "https://www.dropbox.com/s/x2katwk93z06sgw?dl=1"),
        ),
        ("2695", "https://www.dropbox.com/s/ufianih66xjqxdu?dl=1", "https://www.dropbox.com/s/gh72dk7i0p7fggu?dl=1"),
    ),
    _mca(
        "Spleen",
        (("1970", "https://www.dropbox.com/s/c4te0fr1qicqki8?dl=1", "https://www.dropbox.com/s/3ea64vk546fjxvr?dl=1"),),
        ("1759", "https://www.dropbox.com/s/fl8t7rbo5dmznvq?dl=1", "https://www.dropbox.com/s/gczehvgai873mhb?dl=1"),
    ),
    _mca(
        "Kidney",
        (("4682", "https://www.dropbox.com/s/olf5nirtieu1ikq?dl=1", "https://www.dropbox.com/s/3plrve7g9v428ec?dl=1"),),
        ("203", "https://www.dropbox.com/s/kmos1ceubumgmpj?dl=1", "https://www.dropbox.com/s/t4eyaig889qdiz2?dl=1"),
    ),
)
