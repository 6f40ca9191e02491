"""PR and ROC curves of the groups, as a PNG."""

from __future__ import annotations

from ..metrics import GroupCurves


def plot_curves(groups: list[GroupCurves], fh, title: str = "") -> None:
    """PR (with each group's prevalence as a dashed line) and ROC panels, PNG to ``fh``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5), dpi=100)
    ax_pr, ax_roc = fig.subplots(1, 2)
    colors = matplotlib.colormaps["tab10"]
    for i, g in enumerate(groups):
        color = colors(i % 10)
        # recall ascending; precision holds on each recall step up to its right end,
        # the step function whose area is the average precision
        ax_pr.plot(g.recall[::-1], g.precision[::-1], color=color, lw=1.5, drawstyle="steps-pre",
                   label=f"{g.name} (AUPR {g.aupr:.3f}, prev. {g.prevalence:.3f})")
        ax_pr.axhline(g.prevalence, color=color, lw=1, ls="--")
        ax_roc.plot(g.fpr, g.tpr, color=color, lw=1.5, label=f"{g.name} (AUROC {g.auroc:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="grey", lw=1, ls=":")
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
              title="Precision-recall (dashed: prevalence)")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
               ylim=(0, 1.02), title="ROC")
    for ax in (ax_pr, ax_roc):
        if groups:
            ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(fh, format="png")
