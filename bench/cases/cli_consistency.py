"""Command-line consistency cases of issue 13, before and after: a markdown table.

    git worktree add /tmp/prism_before 4e16657
    python -m bench.cases.cli_consistency /tmp/prism_before .

Each case runs `python -m prism_cli.cli ...` with PYTHONPATH set to the tree, in a scratch
folder, on the world of tests/test_cli_consistency.py (a random 2 x 30 kb genome, 120
pairs of cell NEW, a random-weight PRISM with training cells A and B).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def build_world(root: str) -> None:
    from tests import test_cli_consistency as t   # run from the repository root

    class Factory:
        def mktemp(self, name):
            return Path(root)
    t.world.__wrapped__(Factory())


CASES = [
 ("c1", "pairs and element BEDs together", "extract -g G -p P --enhancers E -o ds", None),
 ("c2", "--max-distance with --pairs", "extract -g G -p P --max-distance 100 -o ds", None),
 ("c3", "empty cell list", "extract -g G -p P --cells '' -o ds", None),
 ("c4", "-v with -q", "train -d ds0 -v -q -o run", None),
 ("c5", "pipe: candidates to stdout", "candidates -e E -p PR -d 5000 -o - | wc -l", None),
 ("c6", "pipe: pairs from stdin", "score -p - -m M -g G -c A -o s.bedpe < P", None),
 ("c7", "bad pairs on stdin", "score -p - -m M -g G -c A -o s.bedpe < BAD", None),
 ("c8", "score --support (new name)", "score -p P -m M -g G -c NEWX -s S -o s2.bedpe", None),
 ("c9", "--support with --zero-shot", "score -p P -m M -g G --zero-shot -s S -o s3.bedpe", None),
 ("c10", "old spelling of candidates", "candidates -e E -p PR -d 5000 -o c.bedpe", None),
]
def run(tree, cmd, folder, W):
    subs = {" G ": f" {W}/g.fa ", " P ": f" {W}/pairs.bedpe ", " E ": f" {W}/enh.bed ",
            " PR ": f" {W}/prom.bed ", " M ": f" {W}/model ", " S ": f" {W}/support.bedpe ",
            " BAD": f" {folder}/bad.bedpe", " ds0 ": f" {folder}/ds0 "}
    c = " " + cmd + " "
    for k, v in subs.items():
        c = c.replace(k, v)
    c = c.strip()
    first, _, rest = c.partition(" ")
    shell = f"{sys.executable} -m prism_cli.cli {c}"
    env = dict(os.environ, PYTHONPATH=tree)
    r = subprocess.run(shell, shell=True, capture_output=True, text=True, cwd=folder, env=env)
    out = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
    files = sorted(p for p in os.listdir(folder) if p not in ("bad.bedpe", "ds0"))
    return r.returncode, (out[-1][:150] if out else ""), files, [l for l in out if "note:" in l][:1]
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", help="checkout before the change (git worktree)")
    ap.add_argument("after", help="checkout after the change")
    args = ap.parse_args(argv)
    W = tempfile.mkdtemp(prefix="cc-world-")
    build_world(W)
    rows = []
    for key, what, cmd, _ in CASES:
        cells = []
        for tree in (args.before, args.after):
            folder = tempfile.mkdtemp(prefix="cc-")
            open(f"{folder}/bad.bedpe", "w").write("chr1\t10\t20\tchr1\t50\t60\nchr1\t10\t5\tchr1\t50\t60\n")
            if "ds0" in cmd:
                subprocess.run(f"{sys.executable} -m prism_cli.cli extract -g {W}/g.fa -p {W}/pairs.bedpe -o {folder}/ds0 --enhancer-length 64 --promoter-length 64",
                               shell=True, capture_output=True, env=dict(os.environ, PYTHONPATH=tree))
            rc, last, files, note = run(tree, cmd, folder, W)
            extra = f"; files: {', '.join(files) or 'none'}"
            cells.append(f"**{rc}** {last.replace('|', '/').replace(folder, '.').replace(W, 'W')}{extra}"
                         + (f"; {note[0][:90]}" if note else ""))
            shutil.rmtree(folder)
        rows.append(f"| {key} | {what} | `prism {cmd.replace('|', '[pipe]')}` | {cells[0]} | "
                    f"{cells[1]} |")
    print("| case | what | command | before | after |\n|---|---|---|---|---|")
    print("\n".join(rows))
    shutil.rmtree(W, ignore_errors=True)


if __name__ == "__main__":
    main()
