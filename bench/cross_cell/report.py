"""Markdown tables and the learning-curve plot of the cross-cell benchmark, rendered from
the task records OUT/tasks/*.tsv (+ OUT/run_meta.json, OUT/tasks/*.json) alone: no model
is loaded.

    python -m bench.cross_cell report -o OUT_SIM OUT_REAL --markdown report.md \
        --plot docs/img/cross_cell_learning_curve.png
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

SUPPORTS = (16, 64, 256)
ABLATION_NAMES = {"no-adversary": "without domain adversary",
                  "no-distill": "without distillation",
                  "no-opportunist": "without opportunist / push-away",
                  "no-stop-gradient": "without stop-gradient",
                  "no-prototype-map": "without prototype map"}


def method_label(r) -> str:
    """Human name of a result row's method."""
    if r.model == "truth":
        return {"oracle": "oracle (true p)", "mean-env": "mean-env reference (U - mean R)",
                "U-alone": "U alone (truth)"}[r.variant]
    if r.model == "distance-lr":
        return "distance LR"
    if r.model == "kmer-lr":
        return "k-mer LR"
    if r.model == "kmer+dist-lr":
        return "k-mer + distance LR"
    if r.model == "crossattn":
        return "crossattn zero-shot" if r["mode"] == "zero-shot" else \
            f"crossattn fine-tuned n={int(r.support)}"
    prefix = "PRISM" if r.variant == "full" else f"PRISM {r.variant}"
    if r["mode"] == "zero-shot":
        return f"{prefix} zero-shot (U_I)"
    if r["mode"] == "nearest-teacher":
        return f"{prefix} nearest teacher"
    return f"{prefix} + adapt n={int(r.support)}"


ORDER = ["oracle (true p)", "mean-env reference (U - mean R)", "U alone (truth)",
         "distance LR", "k-mer LR", "k-mer + distance LR", "crossattn zero-shot",
         "crossattn fine-tuned n=16", "crossattn fine-tuned n=64",
         "crossattn fine-tuned n=256", "PRISM zero-shot (U_I)", "PRISM nearest teacher",
         "PRISM + adapt n=16", "PRISM + adapt n=64", "PRISM + adapt n=256"]


def _order_key(label: str) -> tuple:
    return (ORDER.index(label), "") if label in ORDER else (len(ORDER), label)


def _ms(values, digits: int = 3) -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return "-"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def load(out: Path) -> tuple[pd.DataFrame, dict, dict]:
    """results table (with a 'method' column), the last run_meta, and task infos.

    The table is the concatenation of OUT/tasks/*.tsv (what `run` writes and `export`
    stores); a folder without task tables is read from OUT/results.tsv."""
    tables = sorted((out / "tasks").glob("*.tsv"))
    res = pd.concat([pd.read_csv(p, sep="\t") for p in tables], ignore_index=True) if tables \
        else pd.read_csv(out / "results.tsv", sep="\t")
    res["method"] = [method_label(r) for _, r in res.iterrows()]
    metas = json.loads((out / "run_meta.json").read_text()) if \
        (out / "run_meta.json").exists() else [{}]
    meta = metas[-1] if isinstance(metas, list) else metas
    meta["all_runs"] = metas if isinstance(metas, list) else [metas]
    infos = {p.stem: json.loads(p.read_text()) for p in (out / "tasks").glob("*.json")}
    return res, meta, infos


def fold_table(meta: dict, res: pd.DataFrame) -> str:
    folds = meta.get("folds", {})
    if not folds:
        return ""
    lines = ["| held-out cell | training cells | train / val pairs | support pool | query "
             "pairs (prevalence) | removed by dedup | query pairs also labelled in a "
             "training cell (label agreement) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for cell, f in folds.items():
        prev = res.loc[res.held_out == cell, "prevalence"]
        prev = f"{prev.iloc[0]:.3f}" if len(prev) else "-"
        agree = f.get("dedup_their_label_agreement")
        agree = f"{agree:.2f}" if agree is not None and math.isfinite(agree) else "-"
        lines.append(f"| {cell} | {f['training_cells']} | {f['train_pairs']:,} / "
                     f"{f['val_pairs']:,} | {f['support_pool']:,} | {f['query_pairs']:,} "
                     f"({prev}) | {f['dedup_removed']} of {f['dedup_query_before']:,} | "
                     f"{f['dedup_query_pairs_labelled_in_other_cells']:,} ({agree}) |")
    return "\n".join(lines)


def method_table(res: pd.DataFrame, cell: str, variants=("full",)) -> str:
    """One held-out cell: every method, mean ± sd over seeds."""
    sub = res[(res.held_out == cell) & (res.variant.isin(list(variants) + ["oracle", "mean-env",
                                                                              "U-alone"])
                                        | (res.held_out == cell) & res.model.str.endswith("-lr"))]
    prev = sub["prevalence"].iloc[0]
    lines = [f"**{cell}** (query prevalence {prev:.3f}; AUPR of a random ranking = "
             "prevalence, balanced AUPR of a random ranking = 0.5)", "",
             "| method | seeds | AUPR | balanced AUPR | AUROC | F1 at own threshold |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label in sorted(sub["method"].unique(), key=_order_key):
        g = sub[sub.method == label]
        lines.append(f"| {label} | {g.seed.nunique()} | {_ms(g.aupr)} | "
                     f"{_ms(g.aupr_balanced)} | {_ms(g.auroc)} | {_ms(g.f1_at_t)} |")
    return "\n".join(lines)


def mean_over_cells(res: pd.DataFrame) -> str:
    """Mean over held-out cells (per seed, then mean ± sd over seeds)."""
    cells = res.held_out.unique()
    if len(cells) < 2:
        return ""
    keep = res[(res.variant.isin(["full", "oracle", "mean-env", "U-alone"])) |
               res.model.str.endswith("-lr")]
    per_seed = keep.groupby(["method", "seed"]).agg(
        aupr=("aupr", "mean"), aupr_balanced=("aupr_balanced", "mean"),
        auroc=("auroc", "mean"), prevalence=("prevalence", "mean"),
        n_cells=("held_out", "nunique")).reset_index()
    lines = [f"Mean over the {len(cells)} held-out cells ({', '.join(cells)}):", "",
             "| method | cells | AUPR | AUPR - prevalence | balanced AUPR | AUROC |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label in sorted(per_seed["method"].unique(), key=_order_key):
        g = per_seed[per_seed.method == label]
        lines.append(f"| {label} | {int(g.n_cells.max())} | {_ms(g.aupr)} | "
                     f"{_ms(g.aupr - g.prevalence)} | {_ms(g.aupr_balanced)} | "
                     f"{_ms(g.auroc)} |")
    return "\n".join(lines)


def gain_table(res: pd.DataFrame) -> str:
    """Sim only: where each method sits between the mean-env reference and the oracle."""
    refs = res[res.model == "truth"]
    if refs.empty:
        return ""
    lines = ["Fraction of the way from the mean-env reference to the oracle, "
             "(AUPR - AUPR_ref) / (AUPR_oracle - AUPR_ref): 0 = the honest zero-shot "
             "reference, 1 = the oracle, negative = below the reference.", "",
             "| held-out cell | oracle AUPR | mean-env AUPR | method | AUPR | fraction of the "
             "gap |", "| --- | --- | --- | --- | --- | --- |"]
    for cell in res.held_out.unique():
        r = refs[refs.held_out == cell]
        oracle = r[r.variant == "oracle"].aupr.mean()
        ref = r[r.variant == "mean-env"].aupr.mean()
        sub = res[(res.held_out == cell) & (res.model != "truth") &
                  ((res.variant == "full") | res.model.str.endswith("-lr"))]
        for label in sorted(sub.method.unique(), key=_order_key):
            g = sub[sub.method == label]
            frac = (g.aupr - ref) / (oracle - ref)
            lines.append(f"| {cell} | {oracle:.3f} | {ref:.3f} | {label} | {_ms(g.aupr)} | "
                         f"{_ms(frac, 2)} |")
    return "\n".join(lines)


def ablation_table(res: pd.DataFrame) -> str:
    sub = res[res.model == "prism"]
    variants = [v for v in ["full"] + list(ABLATION_NAMES) if v in set(sub.variant)]
    if len(variants) < 2:
        return ""
    lines = ["| PRISM variant | held-out cell | seeds | zero-shot AUPR | adapt n=16 | adapt "
             "n=64 | adapt n=256 | adapt-64 minus zero-shot |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for cell in sub.held_out.unique():
        seeds_abl = set(sub[(sub.held_out == cell) & (sub.variant != "full")].seed)
        for v in variants:
            g = sub[(sub.held_out == cell) & (sub.variant == v)]
            if v == "full":      # compare on the seeds the ablations ran with
                g = g[g.seed.isin(seeds_abl)] if seeds_abl else g
            z = g[g["mode"] == "zero-shot"].set_index("seed").aupr
            a = {n: g[(g["mode"] == "adapt") & (g.support == n)].set_index("seed").aupr
                 for n in SUPPORTS}
            diff = (a[64] - z).dropna()
            name = "full model" if v == "full" else ABLATION_NAMES[v]
            lines.append(f"| {name} | {cell} | {g.seed.nunique()} | {_ms(z)} | "
                         f"{_ms(a[16])} | {_ms(a[64])} | {_ms(a[256])} | {_ms(diff)} |")
    return "\n".join(lines)


def training_notes(infos: dict) -> str:
    """Per trained model: epochs, best epoch, validation AUPR, collapse flags, competition
    statistics, nearest cell, R spread."""
    rows = []
    for task, info in sorted(infos.items()):
        tr = info.get("train")
        if not tr:
            continue
        last = tr.get("train_last_epoch", {})
        comp = ", ".join(f"{k} {last[k]:.3f}" for k in ("rho", "push", "pull", "T")
                         if last.get(k) is not None)
        collapse = ",".join(tr.get("collapse_last_epoch") or []) or "none"
        rows.append(f"| {task} | {info.get('train_seconds', float('nan')):.0f} | "
                    f"{tr.get('best_epoch')}/{tr.get('epochs')} | "
                    f"{(tr.get('val_mean_aupr') or float('nan')):.3f} "
                    f"({(tr.get('val_mean_prevalence') or float('nan')):.3f}) | {collapse} | "
                    f"{comp or '-'} | {info.get('nearest_cell', '-')} | "
                    f"{info.get('R_sd_adapt64', float('nan')):.3g} |")
    if not rows:
        return ""
    head = ["| run | train s | best epoch | val AUPR (prev.) on training cells | collapse "
            "flagged (last epoch) | competition (last epoch) | nearest cell | sd of R over "
            "query (adapt 64) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    return "\n".join(head + rows)


def render(outs: list[Path], plot: str | None = None) -> str:
    parts = []
    loaded = []
    for out in outs:
        res, meta, infos = load(out)
        loaded.append((out, res, meta))
        runs = meta.get("all_runs", [meta])
        wall = sum(r.get("wall_seconds", 0) or 0 for r in runs)
        parts.append(f"### {meta.get('dataset', out.name)} ({meta.get('mode', '?')} mode)")
        digests = sorted({i.get("code_digest") for i in infos.values() if i.get("code_digest")})
        if len(digests) > 1:
            parts.append(f"**Warning: these results come from {len(digests)} different code "
                         f"versions ({', '.join(digests)}); rerun the tasks of the older "
                         "ones before comparing.**")
        parts.append(f"Results folder `{out}`; held-out cells "
                     f"{', '.join(res.held_out.unique())}; seeds "
                     f"{', '.join(map(str, sorted(res.seed.unique())))}; validation chromosomes "
                     f"{','.join(meta.get('val_chroms', []))}, test (query) chromosomes "
                     f"{','.join(meta.get('test_chroms', []))}; wall time {wall / 60:.0f} min "
                     f"over {len(runs)} invocation(s); started {runs[0].get('started', '?')}; "
                     f"code digest {', '.join(digests) or '?'}.")
        for block in (fold_table(meta, res), mean_over_cells(res)):
            if block:
                parts.append(block)
        for cell in res.held_out.unique():
            parts.append(method_table(res, cell))
        for block in (gain_table(res), ablation_table(res), training_notes(infos)):
            if block:
                parts.append(block)
    if plot:
        learning_curve(loaded, plot)
        parts.append(f"![learning curve]({plot})")
    return "\n\n".join(parts) + "\n"


def learning_curve(loaded, path: str) -> None:
    """Held-out AUPR vs support size: PRISM + adapt vs fine-tuned crossattn (mean over
    held-out cells; error bars = sd over seeds), with the support-free methods as lines."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * len(loaded), 4.2), dpi=110)
    axes = fig.subplots(1, len(loaded), squeeze=False)[0]
    for ax, (out, res, meta) in zip(axes, loaded):
        def curve(mask):
            g = res[mask].groupby(["support", "seed"]).aupr.mean().reset_index()
            s = g.groupby("support").aupr
            return s.mean(), s.std(ddof=1).fillna(0)

        for label, mask, color in (
                ("PRISM + adapt", (res.model == "prism") & (res.variant == "full") &
                 (res["mode"] == "adapt"), "C0"),
                ("crossattn fine-tuned", (res.model == "crossattn") &
                 (res["mode"] == "finetune"), "C1")):
            if mask.any():
                m, sd = curve(mask)
                ax.errorbar(m.index, m.values, yerr=sd.values, marker="o", capsize=3,
                            color=color, label=label)
        flat = [("PRISM zero-shot", (res.model == "prism") & (res.variant == "full") &
                 (res["mode"] == "zero-shot"), "C0", ":"),
                ("PRISM nearest teacher", (res.model == "prism") & (res.variant == "full") &
                 (res["mode"] == "nearest-teacher"), "C0", "-."),
                ("crossattn zero-shot", (res.model == "crossattn") &
                 (res["mode"] == "zero-shot"), "C1", ":"),
                ("k-mer + distance LR", res.model == "kmer+dist-lr", "C2", "--"),
                ("distance LR", res.model == "distance-lr", "C7", "--"),
                ("oracle", (res.model == "truth") & (res.variant == "oracle"), "k", "-"),
                ("mean-env reference", (res.model == "truth") & (res.variant == "mean-env"),
                 "k", "--")]
        for label, mask, color, ls in flat:
            if mask.any():
                ax.axhline(res[mask].aupr.mean(), color=color, ls=ls, lw=1.2, label=label)
        prev = res.groupby("held_out").prevalence.first().mean()
        ax.axhline(prev, color="grey", lw=0.8, ls=(0, (1, 3)), label="prevalence")
        ax.set_xscale("log")
        ax.set_xticks(list(SUPPORTS), [str(s) for s in SUPPORTS])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())   # no log minor labels
        ax.set(xlabel="support pairs of the held-out cell", ylabel="query AUPR",
               title=f"{meta.get('dataset', out.name)}: held-out "
                     f"{', '.join(res.held_out.unique())}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
