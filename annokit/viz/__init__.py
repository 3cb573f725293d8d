"""Figures on a given matplotlib Axes (matplotlib imported lazily inside the functions)."""

from annokit.viz.figures import (
    ERROR_COLORS,
    best_f1_threshold,
    box_size_histogram,
    class_count_histogram,
    confusion_matrix,
    error_bars,
    error_pie,
    figure_png_bytes,
    new_axes,
    per_class_bars,
    plot_confusion_matrix,
    pr_curve_points,
    pr_curves,
    reliability_diagram,
    save_figure,
    threshold_curves,
)
from annokit.viz.overlay import STATUS_COLORS, label_colors, overlay, text_color_for

__all__ = [
    "ERROR_COLORS",
    "STATUS_COLORS",
    "best_f1_threshold",
    "box_size_histogram",
    "class_count_histogram",
    "confusion_matrix",
    "error_bars",
    "error_pie",
    "figure_png_bytes",
    "label_colors",
    "new_axes",
    "overlay",
    "per_class_bars",
    "plot_confusion_matrix",
    "pr_curve_points",
    "pr_curves",
    "reliability_diagram",
    "save_figure",
    "text_color_for",
    "threshold_curves",
]
