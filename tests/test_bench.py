"""bench/ stays runnable: every module imports (a moved prism_cli name fails here, not in
the middle of a benchmark) and every script answers ``--help`` (its argument parser is
built) without running anything.  No benchmark is run."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bench

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.walk_packages(bench.__path__, "bench."))
# modules with a command line (a ``main``); the rest are libraries of the benchmarks
SCRIPTS = ["bench.adaptation.element_features", "bench.adaptation.sim_refit_reference",
           "bench.cases.cli_consistency", "bench.cases.reliability",
           "bench.cross_cell.harness", "bench.probes.cell_specificity",
           "bench.probes.competition", "bench.probes.distance_shape",
           "bench.probes.feature_ceiling", "bench.probes.motif_finetune",
           "bench.probes.tower",
           "bench.probes.tower_variants", "bench.probes.zf",
           "bench.simulated.motif_recovery", "bench.simulated.simulate_reference",
           "bench.simulated.train_validation", "bench.throughput.extract",
           "bench.throughput.score", "bench.throughput.train"]


def test_the_module_list_is_complete():
    """Every bench module with a ``main`` is in SCRIPTS, so its --help is tested."""
    assert "bench.cross_cell.harness" in MODULES
    with_main = []
    for m in MODULES:
        path = REPO / (m.replace(".", "/") + ".py")
        if path.exists() and not m.endswith("__main__") and any(
                isinstance(n, ast.FunctionDef) and n.name == "main"
                for n in ast.parse(path.read_text()).body):
            with_main.append(m)
    assert sorted(with_main) == sorted(SCRIPTS)


@pytest.mark.parametrize("name", [m for m in MODULES if not m.endswith("__main__")])
def test_bench_module_imports(name):
    importlib.import_module(name)


@pytest.mark.parametrize("name", SCRIPTS)
def test_bench_script_help(name):
    """``main(["--help"])``: the parser is built and exits 0 before any work."""
    module = importlib.import_module(name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    assert "usage:" in out.getvalue()


def _prism_cli_imports():
    """(file:line, module, name) of every ``prism_cli`` import in bench/, including the
    ones inside functions (which importing the module does not run)."""
    for path in sorted((REPO / "bench").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and not node.level and \
                    (node.module or "").split(".")[0] == "prism_cli":
                for alias in node.names:
                    yield where, node.module, alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "prism_cli":
                        yield where, alias.name, None


@pytest.mark.parametrize("where,module,name", list(_prism_cli_imports()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_bench_prism_cli_names_exist(where, module, name):
    """Every prism_cli name bench/ imports, at module level or inside a function, exists."""
    mod = importlib.import_module(module)
    if name is not None and not hasattr(mod, name):
        importlib.import_module(f"{module}.{name}")   # a submodule (from pkg import mod)


def test_cross_cell_runs_as_a_package_module():
    """``python -m bench.cross_cell`` (the package's __main__) from the repository root."""
    res = subprocess.run([sys.executable, "-m", "bench.cross_cell", "run", "--help"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "--dataset" in res.stdout


def test_bench_has_no_sys_path_edits():
    """Scripts run as ``python -m bench.<package>.<module>``: no module edits sys.path."""
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "bench").rglob("*.py")
                 if "sys.path" in p.read_text()]
    assert offenders == []


def test_motif_finetune_scan_is_the_soft_occupancy():
    """The probe's differentiable scan at its starting point equals
    MotifScanner.soft_occupancy up to the windows the latter leaves out (> 5 bits under
    the threshold: each under sigmoid(-5)), on both strands and with an N in a window."""
    import numpy as np
    import torch

    from bench.probes.motif_finetune import SoftScan, kernel_pwms
    from prism_cli.motifs.pwm import Motif
    from prism_cli.motifs.scan import MotifScanner

    rng = np.random.default_rng(0)
    windows = rng.integers(0, 4, size=(30, 120)).astype(np.uint8)
    site = np.array([0, 1, 2, 3, 3, 2, 0, 1])                  # ACGTTGAC
    windows[:10, 20:28] = site
    windows[10:20, 50:58] = 3 - site[::-1]                    # reverse complement
    windows[5, 60] = 4
    pwm = np.full((8, 4), 0.04)
    pwm[np.arange(8), site] = 0.88
    short = np.full((5, 4), 0.1)
    short[np.arange(5), [2, 2, 0, 1, 3]] = 0.7
    scanner = MotifScanner([Motif("A", pwm, "t"), Motif("B", short, "t")],
                           thresholds=np.array([11.0, 3.0]))
    scan = SoftScan(windows, scanner)
    ones, zeros = torch.ones(2), torch.zeros(2)
    got = scan.occupancy(torch.from_numpy(scan.kernel0), ones, zeros,
                         np.arange(len(windows))).numpy()
    want = scanner.soft_occupancy(windows, 1.0)
    left_out = 120 * 1 / (1 + np.exp(5))                       # at most every window
    assert np.all(got >= want - 1e-3) and np.all(got - want <= left_out)
    assert got[:20, 0].min() > 0.9 and got[20:, 0].max() < 0.5   # either strand found
    back = kernel_pwms(scan.kernel0, scan.widths)
    assert np.abs(back[0] - pwm).max() < 1e-3                  # kernels read back as PWMs


def test_planted_enrichment_sees_a_planted_motif_and_not_an_absent_one():
    """motif_recovery's ceiling column: a motif planted in a third of random windows is
    enriched over their dinucleotide shuffles; one never planted is not."""
    from types import SimpleNamespace

    import numpy as np

    from bench.simulated.motif_recovery import planted_enrichment
    from prism_cli.encode import encode

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (900, 200)).astype(np.uint8)
    site = encode("TGACTCAGCA")
    for i in range(0, 900, 3):
        at = rng.integers(0, 190)
        codes[i, at:at + 10] = site

    def pwm(consensus):
        idx = encode(consensus)
        p = np.full((len(idx), 4), 0.1 / 3)
        p[np.arange(len(idx)), idx] = 0.9
        return SimpleNamespace(name=consensus, pwm=p)

    planted, absent = planted_enrichment([pwm("TGACTCAGCA"), pwm("CCATTGGTAC")], codes)
    assert planted > 5 and 0.5 < absent < 1.5


def test_motif_recovery_records_a_command_that_reruns():
    """The sidecar's command keeps zeros, writes switches as bare flags and drops unset
    options (it wrote "--repeat-mask True" and dropped "--seed 0" before)."""
    from bench.simulated.motif_recovery import command_line

    line = command_line({"seed": 0, "discover_seed": 2, "steps": None, "repeat_mask": True,
                         "gapped_seeds": False, "out": "x.tsv"})
    assert line == ("python -m bench.simulated.motif_recovery --seed 0 --discover-seed 2 "
                    "--repeat-mask --out x.tsv")
