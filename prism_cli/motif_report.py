"""What ``prism motifs`` reports: the motifs of a model or of a dataset, their JASPAR
matches and, for a model, each motif's contribution to U_I and R.

    model_motifs(model_path, data, n_pairs, seed, device) -> (table, motifs)
    dataset_motifs(data, chroms, n_motifs, steps, seed, device) -> (table, motifs)
    write_report(out, table, motifs, jaspar=True, force=False)
        -> OUT/motifs.meme, OUT/motifs.tsv (largest effect on U_I + R first),
           OUT/logos.png (the first MAX_LOGOS motifs), OUT/report.json
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PrismInputError

REPORT_FORMAT = "prism-motifs"
MAX_LOGOS = 48   # logos.png shows at most this many motifs (the largest effects first)
PRINTED = 30     # rows of the table printed on the terminal


def _motif_table(motifs, thresholds=None, softness=None) -> pd.DataFrame:
    """One row per motif; ``thresholds`` / ``softness`` (M,) bits, NaN where absent
    (softness NaN: the model reads hit counts)."""
    from .motifs.pwm import information_content

    rows = []
    for i, m in enumerate(motifs):
        rows.append({"motif": m.name, "source": m.source, "width": len(m.pwm),
                     "consensus": "".join("ACGT"[k] for k in np.asarray(m.pwm).argmax(1)),
                     "ic_bits": float(information_content(m.pwm).sum()),
                     "threshold": (float(thresholds[i]) if thresholds is not None
                                   else float("nan")),
                     "softness": (float(softness[i]) if softness is not None
                                  else float("nan"))})
    return pd.DataFrame(rows)


def _scanner_softness(scanner) -> np.ndarray:
    """(M,) softness in bits of a scanner's features; NaN for hit counts."""
    if scanner.softness is None:
        return np.full(len(scanner.motifs), np.nan)
    return scanner._softness_vector(scanner.softness)


def model_motifs(model_path, data, n_pairs: int, seed: int, device: str):
    """Motifs of a trained model, with their effects on U_I and R measured on ``n_pairs``
    pairs of ``data`` (default: the model's training dataset, training chromosomes)."""
    from .checkpoint import Checkpoint
    from .dataset import PairDataset
    from .features.effects import feature_effects
    from .features.stage import FeatureStage

    ck = Checkpoint.load(model_path, device)
    stage = FeatureStage.from_state(ck.element_features)
    motifs = stage.motifs()
    thresholds = softness = None
    if stage.scanners:
        thresholds = np.concatenate([sc.thresholds for _, sc in stage.scanners])
        softness = np.concatenate([_scanner_softness(sc) for _, sc in stage.scanners])
    table = _motif_table(motifs, thresholds, softness)
    data = data or ck.dataset_path
    if data and Path(data, "manifest.json").exists() and stage.n_features:
        ds = PairDataset(data)
        pairs = ds.pairs
        train_chroms = set((ck.splits or {}).get("train") or pairs["chrom1"])
        pairs = pairs[pairs["chrom1"].isin(train_chroms)]
        rng = np.random.default_rng(seed)
        if len(pairs) > n_pairs:
            pairs = pairs.iloc[np.sort(rng.choice(len(pairs), n_pairs, replace=False))]
        enh, prom = stage.inputs(ds)
        effects = feature_effects(ck.model, enh, prom, pairs, stage.names)
        effects = effects.rename(columns={"feature": "motif"})
        table = table.merge(effects, on="motif", how="left") if len(table) else effects
    return table, motifs


def dataset_motifs(data, chroms, n_motifs: int, steps: int, seed: int, device: str):
    """Motifs discovered label-free on the elements of a dataset (optionally only those on
    ``chroms``), with thresholds calibrated on their dinucleotide shuffles."""
    from .dataset import PairDataset
    from .features.stage import DiscoverSettings, _pooled_codes, base_composition
    from .motifs.discover import discover_motifs
    from .motifs.scan import MotifScanner

    ds = PairDataset(data)
    ids = {}
    for role, col, table in (("enhancer", "enh_idx", ds.enhancer_table()),
                             ("promoter", "prom_idx", ds.promoter_table())):
        keep = np.ones(len(table), bool) if not chroms else table["chrom"].isin(chroms).to_numpy()
        ids[role] = np.flatnonzero(keep)
    if chroms and not (len(ids["enhancer"]) or len(ids["promoter"])):
        raise PrismInputError(f"no element on {','.join(chroms)}", data)
    settings = DiscoverSettings(n_motifs=n_motifs, steps=steps, seed=seed)
    codes = _pooled_codes(ds, ids, settings.max_elements, seed)
    motifs = discover_motifs(codes, n_motifs=n_motifs, steps=steps, seed=seed, device=device)
    scanner = MotifScanner(motifs, background=base_composition(codes))
    thresholds = scanner.calibrate(codes, p_value=settings.p_value, seed=seed) if motifs else None
    softness = np.full(len(motifs), settings.softness) if motifs and settings.softness else None
    return _motif_table(motifs, thresholds, softness), motifs


def jaspar_matches(motifs) -> pd.DataFrame:
    """Best JASPAR CORE vertebrates match of each motif (TOMTOM): motif, jaspar_match,
    jaspar_p, jaspar_q."""
    from .motifs.compare import tomtom_table
    from .motifs.jaspar import jaspar_motifs

    motifs = [m for m in motifs if m.source != "jaspar"]  # a JASPAR motif is its own match
    if not motifs:
        return pd.DataFrame(columns=["motif", "jaspar_match", "jaspar_p", "jaspar_q"])
    hits = tomtom_table(motifs, jaspar_motifs())
    return hits.rename(columns={"query": "motif", "target": "jaspar_match",
                                "p_value": "jaspar_p", "q_value": "jaspar_q"})[
        ["motif", "jaspar_match", "jaspar_p", "jaspar_q"]]


def write_report(out, table: pd.DataFrame, motifs, jaspar: bool = True,
                 force: bool = False) -> None:
    from .io.atomic import atomic_dir
    from .motifs.logo import plot_logos
    from .motifs.pwm import write_meme

    if jaspar and motifs:
        table = table.merge(jaspar_matches(motifs), on="motif", how="left")
    if "dU_abs" in table:  # the motifs that move predictions most come first
        table = table.assign(_effect=table["dU_abs"].fillna(0) + table["dR_abs"].fillna(0))
        table = table.sort_values("_effect", ascending=False, kind="stable").drop(
            columns="_effect").reset_index(drop=True)
    by_name = {m.name: m for m in motifs}
    shown = table["motif"].head(MAX_LOGOS).tolist()
    matches = (dict(zip(table["motif"], table["jaspar_match"])) if "jaspar_match" in table
               else {})
    with atomic_dir(out, force=force) as tmp:
        write_meme(tmp / "motifs.meme", motifs)
        table.to_csv(tmp / "motifs.tsv", sep="\t", index=False, float_format="%.6g")
        plot_logos([by_name[n] for n in shown], tmp / "logos.png", titles=[
            n + (f"  ~ {matches[n]}" if isinstance(matches.get(n), str) else "")
            for n in shown])
        (tmp / "report.json").write_text(json.dumps(
            {"format": REPORT_FORMAT, "motifs": len(motifs)}, indent=1) + "\n")
    _print(table, out)


def _print(table: pd.DataFrame, out) -> None:
    from rich.console import Console
    from rich.table import Table

    cols = [c for c in ("motif", "consensus", "ic_bits", "jaspar_match", "jaspar_q",
                        "carriers", "dU_carriers", "dR_carriers") if c in table]
    t = Table(title=f"prism motifs -> {out}" + (f" (first {PRINTED} of {len(table)}; all in "
                                                 "motifs.tsv)" if len(table) > PRINTED else ""))
    for c in cols:
        t.add_column(c, justify="left" if c in ("motif", "consensus", "jaspar_match")
                     else "right")
    for _, row in table.head(PRINTED).iterrows():
        t.add_row(*[f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c])
                    for c in cols])
    Console(stderr=True).print(t)
