from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg

from dance.core.plotting.context import PlotContext
from dance.core.plotting.figure import legend_layout, new_figure, panel_figure, save_figure, wrap


def test_figures_stay_out_of_pyplot(tmp_path):
    before = plt.get_fignums()
    figure = new_figure(4, 3)
    assert isinstance(figure.canvas, FigureCanvasAgg)
    figure.add_subplot().plot([0, 1], [0, 1])
    path = save_figure(figure, tmp_path / "sub" / "f.png")
    assert path.is_file() and plt.get_fignums() == before


def test_long_titles_wrap_to_the_figure_width():
    text = "clustering: a_model_with_a_long_name on a_dataset_with_an_even_longer_name (seed 0), ARI 0.752 - UMAP of X_model"
    assert "\n" in wrap(text, 4.0, 11) and "\n" not in wrap(text, 20.0, 11)


def test_legends_grow_columns_as_entries_grow():
    assert legend_layout(3) == (1, 8) and legend_layout(20)[0] == 2 and legend_layout(41)[0] == 3
    columns, _ = legend_layout(150)
    assert -(-150 // columns) <= 20  # 150 clusters: still no more than 20 rows


def test_panel_figure_places_equal_panels_beside_legends_of_any_width():
    figure, axes = panel_figure(2, [0.5, 4.0], panel=3.0, title="t")
    boxes = [ax.get_position() for row in axes for ax in row]
    width, height = figure.get_size_inches()
    assert len(boxes) == 4
    for box in boxes:
        assert abs(box.width * width - 3.0) < 1e-6 and abs(box.height * height - 3.0) < 1e-6
    assert boxes[1].x0 * width - boxes[0].x1 * width >= 0.5  # room for the first legend


def test_context_title_names_model_dataset_seed_and_headline():
    context = PlotContext(task="clustering", model="leiden", dataset="pbmc", metrics={"ari": 0.75}, headline="ari", seed=1)
    assert context.title("UMAP") == "clustering: leiden on pbmc (seed 1), ARI 0.750 - UMAP"
    assert "not scored" in PlotContext(task="t", model="m", dataset="d", headline="ari").title()
    assert context.modality_names == ("mod1", "mod2")
    assert PlotContext(task="t", model="m", dataset="d", modalities=("rna", "adt")).modality_names == ("rna", "adt")
