"""FeatureStage: the element features of a model, fitted once on the training elements,
computed once per unique element and cached with the dataset.

    stage = FeatureStage.fit(spec, ds, {"enhancer": ids, "promoter": ids}, settings)
        discover: motifs learned label-free from the training-chromosome elements
                  (prism_cli/motifs/discover/), thresholds calibrated on their
                  dinucleotide shuffles;
        jaspar:   JASPAR CORE vertebrates, thresholds calibrated the same way;
        table:    the columns of the feature table.
    stage.finetune(ds, train_rows, val_rows, settings)   optional: `discover` motifs'
                  thresholds and softnesses fitted on pair labels (finetune.py)
    stage.features(ds, "enhancer") -> float32 (n_enhancers, F)   (cached: DATA/features/)
    stage.inputs(ds) -> (ElementInputs, ElementInputs)          (what the model reads)
    stage.state() -> JSON-able dict stored in the checkpoint; FeatureStage.from_state(...)

Training, validation, ``adapt`` and ``score`` all go through ``inputs`` (``model_inputs``
rebuilds the stage from a checkpoint's metadata), so an element's features are the same
numbers wherever it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode import N_CODE
from ..errors import PrismInputError
from .inputs import ElementInputs
from .spec import FeatureSpec
from .table import lookup, read_feature_table

ROLES = ("enhancer", "promoter")


@dataclass
class DiscoverSettings:
    """Label-free motif discovery and motif scanning settings (TrainConfig fields)."""
    n_motifs: int = 32
    steps: int = 100              # classifier steps per discovery round
    max_elements: int = 4000      # training elements pooled (random subset): thresholds
    #                               are calibrated on all, discovery runs on <= 3000
    p_value: float = 1e-4         # per-position hit rate on shuffled background
    seed: int = 0
    softness: float = 1.0         # > 0: soft occupancy (bits, MotifScanner.content); 0: hits
    repeat_mask: bool = False     # discovery masks repeat copies first (20-mers in >= 3)
    gapped_seeds: bool = False    # discovery also seeds from k-mers with one free position


def _element_frame(ds, role: str):
    return ds.enhancer_table() if role == "enhancer" else ds.promoter_table()


def _pooled_codes(ds, element_ids: dict, max_elements: int, seed: int) -> np.ndarray:
    """Windows of the given elements of both roles, padded with N to one length:
    uint8 (n, L).  At most ``max_elements`` (a random subset, fixed by ``seed``)."""
    parts = [(ds.enhancers, np.unique(element_ids.get("enhancer", []))),
             (ds.promoters, np.unique(element_ids.get("promoter", [])))]
    total = sum(len(ids) for _, ids in parts)
    rng = np.random.default_rng(seed)
    if total > max_elements > 0:
        keep = np.sort(rng.choice(total, size=max_elements, replace=False))
        offsets = np.cumsum([0] + [len(ids) for _, ids in parts])
        parts = [(arr, ids[keep[(keep >= lo) & (keep < hi)] - lo])
                 for (arr, ids), lo, hi in zip(parts, offsets[:-1], offsets[1:])]
    length = max(arr.shape[1] for arr, _ in parts)
    out = []
    for arr, ids in parts:
        if len(ids):
            block = np.full((len(ids), length), N_CODE, dtype=np.uint8)
            block[:, :arr.shape[1]] = arr[np.sort(ids)]
            out.append(block)
    if not out:
        raise PrismInputError("no training elements to learn motifs from")
    return np.concatenate(out)


def base_composition(codes: np.ndarray) -> np.ndarray:
    """A, C, G, T frequencies of codes (N skipped), symmetrised over strands: (4,)."""
    counts = np.bincount(codes.ravel(), minlength=5)[:4].astype(np.float64) + 1.0
    counts = 0.5 * (counts + counts[::-1])
    return counts / counts.sum()


class FeatureStage:
    """The per-element features of one model (see module docstring)."""

    def __init__(self, spec: FeatureSpec, scanners: list, table_columns: list[str],
                 finetuned: dict | None = None):
        self.spec = spec
        self.scanners = scanners            # [(source, MotifScanner)]
        self.table_columns = list(table_columns)
        self.finetuned = finetuned          # FinetuneResult.record() of `discover`, or None

    # ---- what it is ----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        out = [m.name for _, sc in self.scanners for m in sc.motifs]
        return out + [f"table:{c}" for c in self.table_columns]

    @property
    def n_features(self) -> int:
        return len(self.names)

    def motifs(self) -> list:
        """Every motif the stage scans for (discovered first, then JASPAR)."""
        return [m for _, sc in self.scanners for m in sc.motifs]

    def describe(self) -> str:
        parts = [f"{src} {len(sc.motifs)} motifs" for src, sc in self.scanners]
        if self.table_columns:
            parts.append(f"table {len(self.table_columns)} columns")
        if self.spec.conv:
            parts.append("conv towers")
        return ", ".join(parts)

    # ---- fitting ---------------------------------------------------------------------
    @classmethod
    def fit(cls, spec: FeatureSpec, ds, element_ids: dict, settings: DiscoverSettings,
            log=None, device: str = "cpu") -> "FeatureStage":
        """Learn / load the motifs and calibrate their thresholds on the training
        elements ``element_ids`` ({"enhancer": ids, "promoter": ids}; labels unused)."""
        say = log or (lambda msg: None)
        scanners = []
        if spec.motifs and not settings.softness >= 0:    # before minutes of discovery
            raise PrismInputError(f"motif_softness must be >= 0 bits (0: hit counts), "
                                  f"got {settings.softness}")
        if spec.motifs:
            from ..motifs.scan import MotifScanner

            codes = _pooled_codes(ds, element_ids, settings.max_elements, settings.seed)
            background = base_composition(codes)
            for source in spec.motifs:
                if source == "discover":
                    from ..motifs.discover import discover_motifs
                    from ..motifs.discover.rounds import MAX_ELEMENTS, REPEAT_K

                    say(f"discovering motifs label-free on {min(len(codes), MAX_ELEMENTS)} "
                        f"training elements (element vs dinucleotide shuffle, "
                        f"{settings.steps} steps per round)")
                    motifs = discover_motifs(
                        codes, n_motifs=settings.n_motifs, steps=settings.steps,
                        seed=settings.seed, device=device,
                        repeat_k=REPEAT_K if settings.repeat_mask else 0,
                        gapped_seeds=settings.gapped_seeds)
                    if not motifs:
                        raise PrismInputError(
                            f"motif discovery found no motif enriched over shuffled sequence "
                            f"in {len(codes)} training elements; train longer "
                            f'(train config "discover_steps"), or choose other features '
                            f"(--element-features jaspar, table:PATH or conv)")
                    scanner = MotifScanner(motifs, background=background)
                    scanner.calibrate(codes, p_value=settings.p_value, seed=settings.seed)
                    say(f"{source}: {len(motifs)} motifs, thresholds calibrated at "
                        f"p = {settings.p_value:g} on shuffled training elements")
                else:
                    # known motifs are scanned as FIMO scans them by default (uniform
                    # background, exact p-value thresholds): nothing depends on the
                    # training split, so every model on a dataset shares one cache
                    from ..motifs.jaspar import jaspar_motifs

                    motifs = jaspar_motifs()
                    scanner = MotifScanner(motifs)
                    scanner.set_pvalue_thresholds(settings.p_value)
                    say(f"{source}: {len(motifs)} motifs, FIMO thresholds at "
                        f"p = {settings.p_value:g} (uniform background)")
                scanner.softness = float(settings.softness) or None
                scanners.append((source, scanner))
        columns = read_feature_table(spec.table).columns if spec.table else []
        return cls(spec, scanners, columns)

    def finetune(self, ds, train_rows: np.ndarray, val_rows: np.ndarray, settings,
                 log=None) -> None:
        """Fine-tune the ``discover`` motifs' thresholds and softnesses on the labels of
        the pair rows ``train_rows`` (training chromosomes), keeping the step that is
        best on ``val_rows`` (validation chromosomes): features/finetune.py.  Known
        motifs (``jaspar``) keep their FIMO thresholds.  Needs soft occupancies."""
        from .finetune import PairRows, finetune_calibration

        say = log or (lambda msg: None)
        where = [i for i, (src, _) in enumerate(self.scanners) if src == "discover"]
        if not where or settings.steps <= 0:
            return
        source, scanner = self.scanners[where[0]]
        if scanner.softness is None:
            say("motif fine-tuning skipped: it tunes soft occupancies (motif_softness 0)")
            return
        pairs = ds.pairs
        enh, prom = pairs["enh_idx"].to_numpy(), pairs["prom_idx"].to_numpy()
        labels = pairs["label"].to_numpy().astype(np.int64)
        log_d = ds.log_distance()
        train = PairRows.from_pairs(enh, prom, log_d, labels, train_rows, settings.max_rows,
                                    settings.seed)
        val = PairRows.from_pairs(enh, prom, log_d, labels, val_rows)
        if not (train.has_both_classes and val.has_both_classes):
            say("motif fine-tuning skipped: it needs labelled pairs of both classes on the "
                "training and the validation chromosomes")
            return
        result = finetune_calibration(scanner, ds.enhancers, ds.promoters, train, val,
                                      settings, log=say)
        self.scanners[where[0]] = (source, result.scanner)
        self.finetuned = result.record()

    # ---- features --------------------------------------------------------------------
    def _compute(self, ds, role: str, table=None) -> np.ndarray:
        codes = ds.enhancers if role == "enhancer" else ds.promoters
        blocks = []
        for _, sc in self.scanners:
            blocks.append(sc.content(np.asarray(codes)).astype(np.float32))
        if self.table_columns:
            table = table or read_feature_table(self.spec.table, self.table_columns)
            blocks.append(lookup(table, _element_frame(ds, role), role))
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(codes), 0),
                                                                       np.float32)

    def cache_key(self, ds) -> str:
        h = hashlib.sha256(json.dumps(self.state(), sort_keys=True).encode())
        h.update(ds.checksum.encode())
        if self.spec.table:
            st = os.stat(self.spec.table)
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:20]

    def features(self, ds, role: str) -> np.ndarray:
        """float32 (n_elements of ``role``, F), from DATA/features/KEY/ when cached there
        (written when the dataset folder is writable)."""
        folder = Path(ds.root) / "features" / self.cache_key(ds)
        path = folder / f"{role}.npy"
        n = ds.manifest[f"n_{role}s"]
        if path.exists():
            try:
                arr = np.load(path, allow_pickle=False)
                if arr.shape == (n, self.n_features) and arr.dtype == np.float32:
                    return arr
            except (OSError, ValueError):
                pass
        arr = self._compute(ds, role)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{role}.{os.getpid()}.tmp.npy"
            np.save(tmp, arr, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only dataset: computed, not cached
        return arr

    def inputs(self, ds) -> tuple[ElementInputs, ElementInputs]:
        """The model's element inputs for ``ds``: (enhancers, promoters)."""
        out = []
        for role in ROLES:
            codes = ds.enhancers if role == "enhancer" else ds.promoters
            feats = self.features(ds, role) if self.n_features else None
            out.append(ElementInputs(codes if (self.spec.conv or feats is None) else None,
                                     feats))
        return out[0], out[1]

    # ---- checkpoint state ------------------------------------------------------------
    def state(self) -> dict:
        state = {"spec": self.spec.to_dict(),
                 "scanners": [{"source": src, **sc.state()} for src, sc in self.scanners],
                 "table_columns": self.table_columns, "names": self.names}
        if self.finetuned is not None:
            state["finetuned"] = self.finetuned
        return state

    @classmethod
    def from_state(cls, state: dict | None, table: str | None = None) -> "FeatureStage":
        """Rebuild from ``state()``; None (a checkpoint from before feature stages) means
        sequence towers only.  ``table`` replaces the recorded table path."""
        if not state:
            return cls(FeatureSpec(conv=True), [], [])
        spec = FeatureSpec.from_dict(state["spec"])
        if table is not None:
            spec = FeatureSpec(spec.motifs, str(Path(table).resolve()), spec.conv)
        if spec.table and not Path(spec.table).is_file():
            raise PrismInputError("the model reads a feature table that is not there; give its "
                                  "new place with --feature-table", spec.table)
        scanners = []
        if state.get("scanners"):
            from ..motifs.scan import MotifScanner

            for s in state["scanners"]:
                s = dict(s)
                scanners.append((s.pop("source"), MotifScanner.from_state(s)))
        return cls(spec, scanners, state.get("table_columns", []), state.get("finetuned"))


def model_inputs(ds, meta: dict, table: str | None = None
                 ) -> tuple[ElementInputs, ElementInputs]:
    """Element inputs of ``ds`` for the model whose checkpoint metadata is ``meta``."""
    return FeatureStage.from_state(meta.get("element_features"), table).inputs(ds)
