"""`prism train`: per-cell episodic training of PRISM (or the crossattn baseline)."""

from __future__ import annotations

import click


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


@click.command(name="train")
@click.option("-d", "--data", required=True, type=click.Path(file_okay=False, exists=True),
              help="Dataset folder written by `prism extract`.")
@click.option("--cells", default=None,
              help="Comma-separated training cells (default: every labelled cell not in "
                   "--val-cells).")
@click.option("--val-cells", default=None,
              help="Comma-separated held-out cells: never trained on; validated each epoch "
                   "with support from their training chromosomes (like `prism adapt`).")
@click.option("--val-chroms", default=None,
              help="Comma-separated validation chromosomes (default: see docs).")
@click.option("--test-chroms", default=None,
              help="Comma-separated test chromosomes, never trained or validated on "
                   "(recorded in the checkpoint).")
@click.option("--arch", type=click.Choice(["prism", "crossattn"]), default=None,
              help="Model: the decoupled energy model, or the plain cross-attention "
                   "baseline.  [default: prism]")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs (with --resume: the new total).  [default: 10]")
@click.option("--batch-episodes", type=click.IntRange(min=1), default=None,
              help="Episodes (one cell each) per optimisation step.  [default: 16]")
@click.option("--steps-per-epoch", type=click.IntRange(min=0), default=None,
              help="Steps per epoch; 0 = the query sets cover the training pairs once.")
@click.option("--lr", type=float, default=None, help="Peak learning rate.  [default: 3e-3]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              default=None,
              help='JSON file {"model": {...}, "train": {...}}; options given here win.')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--amp", is_flag=True, help="bf16 autocast on CUDA (ignored on CPU).")
@click.option("--seed", type=int, default=None, help="Random seed.  [default: 0]")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch.")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Run directory (config, log, checkpoints).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and the final summary line.")
@click.option("-v", "--verbose", is_flag=True, help="Also print every logged step.")
def command(data, cells, val_cells, val_chroms, test_chroms, arch, epochs, batch_episodes,
            steps_per_epoch, lr, config_file, device, amp, seed, threads, out, resume, force,
            quiet, verbose):
    """Train on per-cell episodes (support set -> student environment -> query loss),
    validating every epoch on held-out chromosomes through the same inference path that
    `prism adapt` and `prism score` use.  Writes OUT/config.json, log.jsonl, val.tsv and
    best/last checkpoints (safetensors + JSON).

    \b
    Example:
      prism train --data DATA --cells CELL0,CELL1,CELL2 --val-cells CELL3 \\
          --val-chroms chr3 --test-chroms chr4 -o runs/prism
    """
    import json

    from ..errors import InputError
    from ..train.loop import TrainRequest, run_training

    model_over, train_over = {}, {}
    if config_file:
        try:
            conf = json.loads(open(config_file).read())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"not a JSON config ({err})", config_file) from None
        if not isinstance(conf, dict) or set(conf) - {"model", "train"}:
            raise InputError('config must be a JSON object with keys "model" and/or "train"',
                             config_file)
        model_over.update(conf.get("model", {}))
        train_over.update(conf.get("train", {}))
    if arch is not None:
        model_over["arch"] = arch
    for key, value in (("epochs", epochs), ("batch_episodes", batch_episodes),
                       ("steps_per_epoch", steps_per_epoch), ("lr", lr), ("seed", seed)):
        if value is not None:
            train_over[key] = value
    if resume and force:
        raise click.UsageError("--resume and --force exclude each other")
    req = TrainRequest(data=data, out=out, cells=_csv(cells), val_cells=_csv(val_cells) or [],
                       val_chroms=_csv(val_chroms), test_chroms=_csv(test_chroms),
                       model=model_over, train=train_over, device=device, amp=amp,
                       resume=resume, force=force, threads=threads, verbose=verbose,
                       quiet=quiet)
    summary = run_training(req)
    if quiet:
        click.echo(f"best epoch {summary['best_epoch']}: validation mean AUPR "
                   f"{summary['best_score']:.4f} -> {summary['out']}", err=True)
