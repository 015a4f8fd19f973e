"""Datasets of dance-multi: specs only (plain data, nothing imported)."""

from __future__ import annotations

from dance.core.specs import DataFile, DatasetSpec

OP = "https://github.com/openproblems-bio/neurips2021_multimodal_viash/raw/75281c03/resources_test"
OP_PAIRED = "https://github.com/openproblems-bio/neurips2021_multimodal_viash/raw/edaa8793/resources_test"
LOADERS = "dance.multi.loaders"
EMBEDDED = "dance.multi.data"
NEURIPS = "Luecken et al. (2021) A sandbox for prediction and integration of DNA, RNA, and proteins in single cells. NeurIPS Datasets and Benchmarks"


def _op(
    path: str,
    sha256: str,
    size: int,
    base: str = OP,
    local: str = "multimodal/openproblems_bmmc",
    package: str | None = None,
    name: str | None = None,
) -> DataFile:
    task_dir, filename = path.split("/")
    stem = filename.split(".")[0]
    return DataFile(
        path=f"{local}/{task_dir}/{name or filename}",
        sha256=sha256,
        url=f"{base}/{task_dir}/{stem}/{filename}",
        size=size,
        package=package,
    )


CITE_RNA = _op(
    "common/openproblems_bmmc_cite_starter.output_rna.h5ad",
    "e111b6ad48f7236b9291dab56d0aa2ebcc1a5f8d1d402fa232d9bfe3d1af6f61",
    1578699,
    package=EMBEDDED,
)
CITE_ADT = _op(
    "common/openproblems_bmmc_cite_starter.output_mod2.h5ad",
    "ad4df05778c27c930bdb9764452af0fa381cbd9b3fb8de669420148f20fb1fed",
    618443,
    package=EMBEDDED,
)
MULTIOME_RNA = DataFile(
    path="multimodal/openproblems_bmmc/multiome_paired_edaa879332/openproblems_bmmc_multiome_starter.output_rna.h5ad",
    sha256="53efc0c9c9fb205587d18087e9010846c7532d8de23daea26ff5a410b029cea6",
    url=f"{OP_PAIRED}/common/openproblems_bmmc_multiome_starter/openproblems_bmmc_multiome_starter.output_rna.h5ad",
    size=728879,
    package=EMBEDDED,
)
MULTIOME_ATAC = DataFile(
    path="multimodal/openproblems_bmmc/multiome_paired_edaa879332/openproblems_bmmc_multiome_starter.output_mod2.h5ad",
    sha256="f6d6368518a7e5ed0e19eb67f87370b017a1d98d735b9aedbad78dd93c84a068",
    url=f"{OP_PAIRED}/common/openproblems_bmmc_multiome_starter/openproblems_bmmc_multiome_starter.output_mod2.h5ad",
    size=804744,
    package=EMBEDDED,
)

DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="bmmc_cite",
        summary="NeurIPS 2021 BMMC CITE-seq starter: RNA (1,000 genes) + 134 proteins, 600 cells, 41 types",
        target=f"{LOADERS}:load_bmmc_cite",
        tasks=("modality_prediction", "modality_matching", "joint_embedding"),
        default_for=("modality_prediction", "modality_matching", "joint_embedding"),
        description=(
            "Paired RNA and protein (ADT) of bone-marrow cells from donors s1d1 and s1d2. Prediction and matching: train on "
            "s1d1, test on s1d2 (the challenge's is_train). RNA X is log-normalised, protein X CLR-normalised, counts in "
            "layers['counts']; the prediction target is the CLR protein."
        ),
        citation=NEURIPS,
        files=(CITE_RNA, CITE_ADT),
        shape="600 cells x (1000 genes, 134 proteins)",
    ),
    DatasetSpec(
        name="bmmc_multiome",
        summary="NeurIPS 2021 BMMC Multiome starter: RNA (600 genes) + ATAC (600 peaks) of the same 500 cells, 21 types",
        target=f"{LOADERS}:load_bmmc_multiome",
        tasks=("multiomics_integration", "joint_embedding", "modality_prediction", "modality_matching"),
        description=(
            "RNA and chromatin accessibility of the same 500 bone-marrow cells (peaks chr-start-end on GRCh38). For unpaired "
            "integration the pairing is hidden from the model and scores FOSCTTM; prediction/matching train on s1d1."
        ),
        citation=NEURIPS,
        files=(MULTIOME_RNA, MULTIOME_ATAC),
        shape="500 cells x (600 genes, 600 peaks)",
    ),
    DatasetSpec(
        name="neurips_cite_predict",
        summary="NeurIPS 2021 predict-modality CITE starter in the challenge layout (train/test mod1/mod2)",
        target=f"{LOADERS}:load_neurips_predict",
        tasks=("modality_prediction",),
        description="The challenge's own files: train_mod1/train_mod2 (311 cells) and test_mod1/test_mod2 (289 cells).",
        citation=NEURIPS,
        files=(
            _op(
                "predict_modality/openproblems_bmmc_cite_starter.train_mod1.h5ad",
                "059c7c9912f8aaee38694429816f6d0cb79452cb2e59389dee927dd2f964ebb4",
                700053,
            ),
            _op(
                "predict_modality/openproblems_bmmc_cite_starter.train_mod2.h5ad",
                "df744042ae8cd61b7fcf8c8fabffe34cab6b87c5350907be9c617c6ef5d9d66e",
                287507,
            ),
            _op(
                "predict_modality/openproblems_bmmc_cite_starter.test_mod1.h5ad",
                "8300207f3478f4f4b931854a5337c6128433933f00e8ad662ef661b021af123d",
                719105,
            ),
            _op(
                "predict_modality/openproblems_bmmc_cite_starter.test_mod2.h5ad",
                "76b1c4fd5370958db39426d16f6cf8f406a571baf1685aff408f2713ef794bab",
                269574,
            ),
        ),
        shape="600 cells x (1000 genes, 134 proteins)",
    ),
    DatasetSpec(
        name="neurips_cite_match",
        summary="NeurIPS 2021 match-modality CITE starter in the challenge layout (with *_sol pairings)",
        target=f"{LOADERS}:load_neurips_match",
        tasks=("modality_matching",),
        description="The challenge's files; mod2 rows are aligned to mod1 with the train/test solution matrices.",
        citation=NEURIPS,
        files=(
            _op(
                "match_modality/openproblems_bmmc_cite_starter.train_mod1.h5ad",
                "039ffdcc45dde1609de1a1ffc74c1cf813685a364e0fafdef05e900f5b8723df",
                700056,
            ),
            _op(
                "match_modality/openproblems_bmmc_cite_starter.train_mod2.h5ad",
                "8443069e4f80414f5c781b00017d0444f979c36f7bde2d4ab2146541cb37005d",
                278618,
            ),
            _op(
                "match_modality/openproblems_bmmc_cite_starter.train_sol.h5ad",
                "884d092e2529b3985b150c8b42f32fabbd72c5f20a911180d197e3382c0d2be8",
                51312,
            ),
            _op(
                "match_modality/openproblems_bmmc_cite_starter.test_mod1.h5ad",
                "b094d564c88d40e7bb5aaf02526d0d7996a199188373bcc85d5e8cbca91618cc",
                719108,
            ),
            _op(
                "match_modality/openproblems_bmmc_cite_starter.test_mod2.h5ad",
                "b2a4f51cbd650465c4914425a01e6e00b6fbf3bf61d7f5b1387ee2c9c1e3c409",
                262628,
            ),
            _op(
                "match_modality/openproblems_bmmc_cite_starter.test_sol.h5ad",
                "75e9949481f5f4291b0774f43d5c3758b921f1951e0c76018e26c534a30ceda4",
                51312,
            ),
        ),
        shape="600 cells x (1000 genes, 134 proteins)",
    ),
    DatasetSpec(
        name="neurips_cite_joint",
        summary="NeurIPS 2021 joint-embedding CITE starter in the challenge layout (labels in the solution)",
        target=f"{LOADERS}:load_neurips_joint",
        tasks=("joint_embedding",),
        description="mod1 (RNA), mod2 (protein) and the solution file holding the cell types.",
        citation=NEURIPS,
        files=(
            _op(
                "joint_embedding/openproblems_bmmc_cite_starter.mod1.h5ad",
                "c96dd74de6863863ab6e2d05fe2c264311a1659b35d690131f0201ab12054f23",
                1413921,
            ),
            _op(
                "joint_embedding/openproblems_bmmc_cite_starter.mod2.h5ad",
                "f8793523b4e5230c1fa7bd09128ed9687ffd8ee8082e7df83041e9a75c2c6e4f",
                538529,
            ),
            _op(
                "joint_embedding/openproblems_bmmc_cite_starter.solution.h5ad",
                "9c66794325719e2e2caab61efe5cdfc433d4ba474ee6f81d297cd8f159feb5b8",
                992430,
            ),
        ),
        shape="600 cells x (1000 genes, 134 proteins)",
    ),
    DatasetSpec(
        name="cbmc_cite_paired",
        summary="CBMC CITE-seq (Stoeckius 2017): RNA (2,000 genes) + 10 proteins, 8,617 cells, 15 types",
        target=f"{LOADERS}:load_cbmc_paired",
        tasks=("modality_prediction", "joint_embedding", "modality_matching"),
        description="Cord-blood cells: RNA counts and 10 proteins as provided by scDCC (normalised values, not counts); seeded 80/20 split.",
        citation="Stoeckius et al. (2017) Simultaneous epitope and transcriptome measurement in single cells. Nat Methods 14:865-868",
        files=(
            DataFile(
                path="multimodal/CITE_CBMC_counts_top2000.h5",
                sha256="68f36cd64729b1ee853fe5f760dbc0a9238d52a18a8a076742883379cce98e9f",
                url="https://github.com/ttgump/scDCC/raw/142e4e03/data/CITE_PBMC/CITE_CBMC_counts_top2000.h5",
                size=2258340,
            ),
        ),
        shape="8617 cells x (2000 genes, 10 proteins)",
    ),
    DatasetSpec(
        name="cite_pbmc10k",
        summary="10x PBMC 10k CITE-seq: RNA (1,000 genes) + 14 proteins, 6,661 cells, 7 types",
        target=f"{LOADERS}:load_cite_pbmc10k",
        tasks=("modality_prediction", "modality_matching", "joint_embedding"),
        description=(
            "10x Genomics pbmc_10k_protein_v3 (TotalSeq-B): RNA and protein counts of the same cells; X on the challenge's "
            "scales (RNA log1p(counts / size factor), protein CLR), counts in layers['counts']. One batch, so prediction and "
            "matching use a seeded 80/20 split (recorded in obs['split']). Cell types from ADTnorm's annotation; 302 of the "
            "1,000 genes have no recovered name (var['name_resolved'])."
        ),
        citation="10x Genomics (2019) 10k PBMCs from a healthy donor, gene expression and cell surface protein (v3 chemistry)",
        files=(
            DataFile(
                path="multimodal/cite_pbmc10k/pbmc10k_protein_v3_rna.h5ad",
                sha256="6c93960316f9a802e86f4afed2bb19dfe8c1ab7184555edcbf2f0af5c1b3e023",
                source="https://github.com/xianglin226/scMDC/blob/5f354593/datasets/10XPBMC_filtered_1000G.H5",
                size=2289611,
            ),
            DataFile(
                path="multimodal/cite_pbmc10k/pbmc10k_protein_v3_adt.h5ad",
                sha256="24aa11bf6fde037b4032906d2c2f63c9ec1ee2e453b2d9236f6ff0e6d02b389c",
                source="https://github.com/xianglin226/scMDC/blob/5f354593/datasets/10XPBMC_filtered_1000G.H5",
                size=547246,
            ),
        ),
        shape="6661 cells x (1000 genes, 14 proteins)",
    ),
    DatasetSpec(
        name="snareseq_chen2019",
        summary="SNARE-seq adult mouse cortex (Chen 2019): RNA (1,677 genes) + ATAC (25,734 mm10 peaks), 10,309 cells, 23 types",
        target=f"{LOADERS}:load_snareseq_chen2019",
        tasks=("modality_prediction", "modality_matching", "joint_embedding", "multiomics_integration"),
        description=(
            "RNA and chromatin accessibility of the same cells (GEO GSE126074, AdBrainCortex; the features scMoMaT selected). "
            "X on the challenge's scales (RNA log1p(counts / size factor), ATAC binarised), counts in layers['counts']; 12 "
            "library batches in obs['batch']. Prediction and matching hold out whole libraries (09J, 09K, 09L: 2,465 cells) "
            "as the challenge held out donors. Multi-omics integration treats the two modalities as unpaired (the pairing "
            "only scores FOSCTTM); the peaks are mm10 (annotation='mm10')."
        ),
        citation="Chen, Lake & Zhang (2019) High-throughput sequencing of the transcriptome and chromatin accessibility in the same cell. Nat Biotechnol 37:1452-1457",
        files=(
            DataFile(
                path="multimodal/snareseq_chen2019/snareseq_chen2019_rna.h5ad",
                sha256="24e66f3563d289f79d97f4d3c580deaa33680c1c189ebf652ab1d995a031f35b",
                source="https://github.com/PeterZZQ/scMoMaT/tree/dbd954de/data/real/MOp_5batches",
                size=3059093,
            ),
            DataFile(
                path="multimodal/snareseq_chen2019/snareseq_chen2019_atac.h5ad",
                sha256="0bed8e7f0214e7b88522c74cc8db70e8af7f846175721212c43eb2c591f2d533",
                source="https://github.com/PeterZZQ/scMoMaT/tree/dbd954de/data/real/MOp_5batches",
                size=4483896,
            ),
        ),
        shape="10309 cells x (1677 genes, 25734 peaks)",
    ),
    DatasetSpec(
        name="snareseq_chen2019_subset",
        summary="SNARE-seq mouse cortex, embedded subset: 3,000 cells, RNA (1,677 genes) + ATAC (10,000 mm10 peaks), 23 types",
        target=f"{LOADERS}:load_snareseq_chen2019",
        tasks=("multiomics_integration", "joint_embedding", "modality_prediction", "modality_matching"),
        default_for=("multiomics_integration",),
        description=(
            "A seeded random 3,000 of snareseq_chen2019's 10,309 cells (the same cells in both modalities), all genes, and the "
            "10,000 peaks open in the most cells (Signac's FindTopFeatures), written by dance-multi/scripts/snareseq_subset.py; "
            "embedded so that the default GLUE run needs no download. Same layout and loader as the full set; mm10 peaks."
        ),
        citation="Chen, Lake & Zhang (2019) High-throughput sequencing of the transcriptome and chromatin accessibility in the same cell. Nat Biotechnol 37:1452-1457",
        files=(
            DataFile(
                path="multimodal/snareseq_chen2019/snareseq_chen2019_subset_rna.h5ad",
                sha256="31a7fc72fad4a28c5982b4d95a79ba1ab650d9cf56f5f318c3a88f873b39706d",
                source="https://github.com/PeterZZQ/scMoMaT/tree/dbd954de/data/real/MOp_5batches",
                size=1006858,
                package=EMBEDDED,
            ),
            DataFile(
                path="multimodal/snareseq_chen2019/snareseq_chen2019_subset_atac.h5ad",
                sha256="2e6eff0e40793d9b30c67e86bd31226862976d8ef54894fe2b0964500db77111",
                source="https://github.com/PeterZZQ/scMoMaT/tree/dbd954de/data/real/MOp_5batches",
                size=1335293,
                package=EMBEDDED,
            ),
        ),
        shape="3000 cells x (1677 genes, 10000 peaks)",
        # scglue's AUTO schedule runs up to 569 epochs a stage here (24,000 minibatches; over half an hour on
        # two cores): the demo runs 30 with the AUTO rule's proportions (burn-in 1/6, patience 1/12, learning-rate
        # patience 1/24 of the epochs); `--set max_epochs=...` or the full dataset for the real thing
        model_params={"glue": {"max_epochs": 30, "align_burnin": 5, "patience": 3, "reduce_lr_patience": 2}},
    ),
    DatasetSpec(
        name="citefuse_eccite",
        summary="CiteFuse ECCITE-seq example: RNA + 49 proteins of 500 cells (no cell types)",
        target=f"{LOADERS}:load_citefuse",
        tasks=("modality_prediction", "joint_embedding", "modality_matching"),
        description="RNA (19,521 genes) and ADT (49) counts from CiteFuse's example data, converted to .h5mu; no labels.",
        citation="Kim et al. (2020) CiteFuse enables multi-modal analysis of CITE-seq data. Bioinformatics 36:4137-4143",
        files=(
            DataFile(
                path="multimodal/CiteFuse_CITEseq_example.h5mu",
                sha256="128aab086fb94d8ab67a11d31ad28ae1e69be15c21e0ae1f44bc2d7b4bc21a6a",
                source="https://github.com/SydneyBioX/CiteFuse/raw/b6075864/data/CITEseq_example.rda",
                size=3211813,
            ),
        ),
        shape="500 cells x (19521 genes, 49 proteins)",
    ),
    DatasetSpec(
        name="snareseq_scot",
        summary="SNARE-seq cell-line mixture: processed RNA (10-d) and ATAC (19-d) features, 1,047 cells, 4 lines",
        target=f"{LOADERS}:load_snareseq",
        tasks=("multiomics_integration",),
        description="The SCOT benchmark features (already reduced, not counts) of paired RNA and ATAC; the pairing scores FOSCTTM.",
        citation="Demetci et al. (2022) SCOT: single-cell multi-omics alignment with optimal transport. J Comput Biol 29:3-18",
        files=tuple(
            DataFile(
                path=f"multimodal/snareseq_scot/{name}", sha256=sha, url=f"https://github.com/rsinghlab/SCOT/raw/14649be6/data/SNARE/{name}"
            )
            for name, sha in (
                ("SNAREseq_rna_feat.npy", "a8a2c2bbfc036dea5b350d01dd2180b93bb3b1c0008bed49493080348da96a9b"),
                ("SNAREseq_atac_feat.npy", "80d685b6517c100a7fd612846ad38209b64ed9caf095d1630af5a1d7797bd79c"),
                ("SNAREseq_rna_types.txt", "3697fe94aee8b0ed2fad49c10c3226b757cedd8046a5cc0b10d0a845ad540a1d"),
                ("SNAREseq_metadata.txt", "4bfd15c9205ff47e4d37bb0f9d7a9efbe9131b6f660a80f8ad22fccb61c87562"),
            )
        ),
        shape="1047 cells x (10, 19) features",
    ),
)
