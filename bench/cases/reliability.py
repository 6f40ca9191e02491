"""The cases of issue 13, run on two checkouts: exit code and last message line of each.

    git worktree add /tmp/prism_before <commit-before-the-fix>
    python -m bench.cases.reliability --before /tmp/prism_before --after . > table.md

Each command runs as ``python -m prism_cli.cli ...`` with PYTHONPATH set to the checkout,
in a fresh scratch folder per checkout (some "before" cases delete folders: never point
this at data you care about). Start-up: the best of 5 wall times of a bad-input error.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = """
import sys, torch
from prism_cli.checkpoint import save_checkpoint
from prism_cli.model import ModelConfig, build_model
torch.manual_seed(0)
cfg = ModelConfig(enhancer_length=64, promoter_length=64, channels=16, d_model=16, n_heads=2,
                  d_z=16, d_f=8, n_prototypes=4, d_env=8, student_hidden=16, n_tokens=4,
                  n_cells=2, dilations=(2,))
model = build_model(cfg)
if len(sys.argv) > 2:
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
save_checkpoint(sys.argv[1], model, {"cells": [{"name": "CELL0", "index": 0},
                {"name": "CELL1", "index": 1}], "windows": {"enhancer_length": 64,
                "promoter_length": 64}, "train_config": {"support_min": 4, "support_max": 32}})
"""
SLOW = """
import sys, time
import prism_cli.predict.score as s
real = s.score_pairs
def slow(*a, **k):
    for chunk in real(*a, **k):
        time.sleep(0.3)
        yield chunk
s.score_pairs = slow
from prism_cli.cli import main
sys.exit(main(sys.argv[1:]))
"""
TINY = {"model": {"channels": 16, "motif_width": 9, "pool": 4, "dilations": [], "n_tokens": 4,
                  "d_model": 16, "n_heads": 2, "n_anchors": 2, "d_z": 16, "kan_hidden": 8,
                  "kan_frequencies": 3, "d_f": 8, "n_prototypes": 4, "d_env": 8,
                  "student_hidden": 16},
        "train": {"batch_episodes": 2, "support_min": 4, "support_max": 16, "query_size": 16,
                  "val_episodes": 2, "val_support_pool": 32, "steps_per_epoch": 1,
                  "epochs": 1, "warmup_steps": 1, "pretrain_steps": 0}}


class Checkout:
    def __init__(self, root: Path, scratch: Path):
        self.root, self.w = root.resolve(), scratch
        self.env = {**os.environ, "PYTHONPATH": str(self.root)}

    def prism(self, *args, cwd=None, timeout=600):
        cmd = [sys.executable, "-m", "prism_cli.cli", *map(str, args)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=self.env,
                             cwd=cwd or self.w, timeout=timeout)
        return res.returncode, _last(res.stdout + res.stderr)

    def py(self, code, *args):
        subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True, env=self.env,
                       cwd=self.w, capture_output=True)

    def slow_score(self, out: Path):
        cmd = [sys.executable, "-c", SLOW, "score", self.w / "sim" / "pairs.bedpe", "-m",
               self.w / "model", "-g", self.w / "sim" / "genome.fa", "-c", "CELL0",
               "--chunk-pairs", "20", "-o", out]
        proc = subprocess.Popen(list(map(str, cmd)), env=self.env, cwd=self.w,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        while not any(p.name.startswith(f".{out.name}.") for p in out.parent.iterdir()):
            if proc.poll() is not None or time.time() - t0 > 300:
                raise RuntimeError(proc.communicate())
            time.sleep(0.05)
        time.sleep(1.5)
        return proc


def _last(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if any(ln.startswith("Traceback") for ln in lines):
        return "Traceback ... " + lines[-1][:150]
    return lines[-1][:220] if lines else ""


def _hidden(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.name.startswith("."))


def cases(c: Checkout) -> dict[str, tuple]:
    w, out = c.w, {}
    sim = w / "sim"
    c.prism("simulate", "-o", sim, "--cells", "3", "--genome-size", "600000", "--pairs", "3000",
            "--seed", "1")
    c.prism("extract", "-g", sim / "genome.fa", "-p", sim / "pairs.bedpe", "-o", w / "data",
            "--enhancer-length", "64", "--promoter-length", "64")
    (w / "model").mkdir()
    c.py(MODEL, w / "model" / "best")
    (w / "tiny.json").write_text(json.dumps(TINY))
    train = ["train", "-d", w / "data", "--config", w / "tiny.json", "--device", "cpu"]

    def run_train(key, *extra, run="run"):
        code, msg = c.prism(*train, "-o", w / run, *extra)
        cfg = w / run / "config.json"
        if code == 0 and cfg.exists():
            s = json.loads(cfg.read_text())["splits"]
            msg = f"exit 0; splits train={s['train']} val={s['val']} test={s['test']}"
        out[key] = (code, msg)
        shutil.rmtree(w / run, ignore_errors=True)

    run_train("1a", "--val-chroms", "chr3", "--test-chroms", "chr9")
    run_train("1b", "--val-chroms", "chrX")
    run_train("1c", "--cells", "")
    run_train("1d", "--cells", ",")

    def user_folder(name):
        d = w / name
        d.mkdir()
        (d / "notes.txt").write_text("precious")
        return d

    d = user_folder("mine_train")
    code, msg = c.prism(*train, "-o", d, "--force")
    out["2a"] = (code, msg, "notes.txt kept" if (d / "notes.txt").exists() else "notes.txt DELETED")
    d = user_folder("mine_sim")
    code, msg = c.prism("simulate", "-o", d, "--genome-size", "200000", "--pairs", "200",
                        "--force")
    out["2b"] = (code, msg, "notes.txt kept" if (d / "notes.txt").exists() else "notes.txt DELETED")
    d = user_folder("cwd")
    code, msg = c.prism("simulate", "-o", ".", "--genome-size", "200000", "--pairs", "200",
                        "--force", cwd=d)
    out["2c"] = (code, msg, "notes.txt kept" if (d / "notes.txt").exists() else "notes.txt DELETED")
    world2 = w / "sim2"
    shutil.copytree(sim, world2)
    code, msg = c.prism("extract", "-g", world2 / "genome.fa", "-p", world2 / "pairs.bedpe",
                        "-o", world2, "--force", "--enhancer-length", "64",
                        "--promoter-length", "64")
    out["2d"] = (code, msg, "genome.fa kept" if (world2 / "genome.fa").exists()
                 else "genome.fa DELETED")

    score = ["score", sim / "pairs.bedpe", "-m", w / "model", "-g", sim / "genome.fa"]
    out["3a"] = c.prism(*score, "-c", "CELL55", "-o", w / "s3a.bedpe")
    sub = w / "cell2.bedpe"
    lines = (sim / "pairs.bedpe").read_text().splitlines()
    sub.write_text("\n".join(lines[:201]) + "\n")  # cells CELL0..CELL2; CELL2 unknown
    out["3b"] = c.prism("score", sub, "-m", w / "model", "-g", sim / "genome.fa", "-o",
                        w / "s3b.bedpe")
    out["3c"] = c.prism(*score, "--zero-shot", "-c", "CELL0", "-o", w / "s3c.bedpe")
    code, msg = c.prism("score", sub, "-m", w / "model", "-g", sim / "genome.fa",
                        "--zero-shot", "-o", w / "s3d.bedpe")
    if code == 0:
        import pandas as pd
        df = pd.read_csv(w / "s3d.bedpe", sep="\t")
        msg = (f"exit 0; cell column {sorted(set(df['cell'].astype(str)))}, input_cell "
               f"{'kept' if 'input_cell' in df else 'dropped'}")
    out["3d"] = (code, msg)

    fa = w / "rewrap" / "genome.fa"
    fa.parent.mkdir()
    shutil.copy(sim / "genome.fa", fa)
    shutil.copy(str(sim / "genome.fa") + ".fai", str(fa) + ".fai")
    first = c.prism("score", sub, "-m", w / "model", "-g", fa, "-c", "CELL0", "-o",
                    w / "r1.bedpe")
    seq = "".join(ln for ln in fa.read_text().splitlines() if not ln.startswith(">"))
    names = [ln[1:] for ln in fa.read_text().splitlines() if ln.startswith(">")]
    text, pos = [], 0
    lengths = [int(ln.split("\t")[1]) for ln in Path(str(fa) + ".fai").read_text().splitlines()]
    for name, n in zip(names, lengths):
        s = seq[pos:pos + n]
        pos += n
        text.append(f">{name}\n" + "".join(s[i:i + 80] + "\n" for i in range(0, n, 80)))
    fa.write_text("".join(text))
    os.utime(str(fa) + ".fai", (time.time() + 5,) * 2)
    code, msg = c.prism("score", sub, "-m", w / "model", "-g", fa, "-c", "CELL0", "-o",
                        w / "r2.bedpe")
    if code == 0 and first[0] == 0:
        import pandas as pd
        a, b = (pd.read_csv(w / f, sep="\t")["prob"] for f in ("r1.bedpe", "r2.bedpe"))
        msg = (f"exit 0; first prob {a.iloc[0]:.3f} -> {b.iloc[0]:.3f}; "
               f"{int((a != b).sum())}/{len(a)} probabilities changed; " + msg)
    out["4"] = (code, msg)

    for key, sig in (("5a", signal.SIGTERM), ("5b", signal.SIGKILL)):
        folder = w / f"kill{key}"
        folder.mkdir()
        proc = c.slow_score(folder / "out.bedpe")
        proc.send_signal(sig)
        proc.communicate(timeout=120)
        left = _hidden(folder)
        again = c.prism("score", sub, "-m", w / "model", "-g", sim / "genome.fa", "-c",
                        "CELL0", "-o", folder / "out.bedpe")
        out[key] = (proc.returncode, f"{left} hidden temporaries after the kill; after the next "
                    f"run: {_hidden(folder)}")
    folder = w / "conc"
    folder.mkdir()
    proc = c.slow_score(folder / "out.bedpe")
    second = c.prism("score", sub, "-m", w / "model", "-g", sim / "genome.fa", "-c", "CELL1",
                     "-o", folder / "out.bedpe", "--force")
    proc.communicate(timeout=600)
    side = json.loads((folder / "out.bedpe.json").read_text()) if \
        (folder / "out.bedpe.json").exists() else {}
    import pandas as pd
    cells = sorted(set(pd.read_csv(folder / "out.bedpe", sep="\t")["cell"]))
    out["5c"] = (second[0], second[1], f"BEDPE cells {cells}, sidecar environments "
                 f"{sorted(side.get('environments', {}))}")

    bad_ds = w / "bad_ds"
    shutil.copytree(w / "data", bad_ds)
    (bad_ds / "manifest.json").write_text('{"format": "prism-dataset", ')
    out["6a"] = c.prism(*train[:1], "-d", bad_ds, "-o", w / "run6a")
    (w / "nan").mkdir()
    c.py(MODEL, w / "nan" / "best", "nan")
    out["6b"] = c.prism("score", sub, "-m", w / "nan", "-g", sim / "genome.fa", "-c", "CELL0",
                        "-o", w / "nan.bedpe")
    code, msg = c.prism("score", sub, "-m", w / "model", "-g", sim / "genome.fa", "-c", "CELL0",
                        "-o", w / "o.bedpe.gz")
    head = (w / "o.bedpe.gz").read_bytes()[:18] if (w / "o.bedpe.gz").exists() else b""
    kind = "BGZF" if head[:2] == b"\x1f\x8b" and head[12:14] == b"BC" else \
        ("gzip" if head[:2] == b"\x1f\x8b" else "plain text")
    out["6c"] = (code, f"writes {kind}")
    nine = w / "nine.bedpe"
    nine.write_text("chr1\t1000\t1100\tchr1\t5000\t5100\tq\t0\t+\n")
    out["6d"] = c.prism("extract", "-g", sim / "genome.fa", "-p", nine, "-o", w / "ds9",
                        "--enhancer-length", "64", "--promoter-length", "64")
    one = w / "one.bedpe"
    one.write_text("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tprob\tcell\tlabel\n" + "".join(
        f"chr1\t{i * 10}\t{i * 10 + 5}\tchr1\t900\t905\t{p}\tONE\t1\n"
        for i, p in enumerate((0.164, 0.3, 0.5))))
    res = subprocess.run([sys.executable, "-m", "prism_cli.cli", "evaluate", one, "-o",
                          w / "one.tsv"], capture_output=True, text=True, env=c.env, cwd=w)
    row = [ln for ln in res.stdout.splitlines() if "ONE" in ln]
    out["6e"] = (res.returncode, "table row: " + " ".join(row[0].replace("│", " ").split())
                 if row else _last(res.stdout + res.stderr))

    (w / "bad.bed").write_text("chr1\t10\t5\n")
    (w / "bad.bedpe").write_text("chr1\t10\t5\tchr1\t50\t60\n")
    (w / "bad.scored").write_text("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tprob\n")
    timed = {"7a": ["candidates", "-e", "/nonexistent", "-p", "bad.bed", "-d", "1000", "-o",
                    "x.bedpe"],
             "7b": ["candidates", "-e", "bad.bed", "-p", "bad.bed", "-d", "1000", "-o",
                    "x.bedpe"],
             "7c": ["extract", "-g", sim / "genome.fa", "-p", "bad.bedpe", "-o", "xds"],
             "7d": ["evaluate", "bad.scored"],
             "7e": ["score", "/nonexistent", "-m", w / "model", "-g", sim / "genome.fa", "-o",
                    "y.bedpe"],
             "7f": ["score", "bad.bedpe", "-m", w / "model", "-g", sim / "genome.fa", "-o",
                    "y.bedpe"],
             "7g": ["score", sub, "-m", w / "model", "-g", sim / "genome.fa", "-c", "CELL55",
                    "-o", "y.bedpe"]}
    for key, args in timed.items():
        best = min(_timed(c, args) for _ in range(5))
        code, msg = c.prism(*args)
        out[key] = (code, f"{best:.2f} s; {msg}")
    return out


def _timed(c: Checkout, args) -> float:
    t0 = time.perf_counter()
    c.prism(*args)
    return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--json", type=Path, default=None, help="Also write the raw results here.")
    args = ap.parse_args(argv)
    results = {}
    for label, root in (("before", args.before), ("after", args.after)):
        scratch = Path(tempfile.mkdtemp(prefix=f"prism-rel-{label}-"))
        results[label] = cases(Checkout(root, scratch))
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print("| case | before: exit, message | after: exit, message |")
    print("|---|---|---|")
    for key in results["after"]:
        b, a = results["before"].get(key, ("?", "")), results["after"][key]
        cell = lambda r: f"{r[0]}: " + "; ".join(str(x) for x in r[1:]).replace("|", "\\|")
        print(f"| {key} | {cell(b)} | {cell(a)} |")


if __name__ == "__main__":
    main()
