"""`prism train`: per-cell episodic training of PRISM (or the crossattn baseline)."""

from __future__ import annotations

import click

from .common import command, csv_names
from .options import (cells_option, data_option, device_option, force_option, out_option,
                      seed_option, threads_option, verbosity_options)


@command("train", conflicts=[("resume", "force")])
@data_option("Dataset folder written by `prism extract`.")
@cells_option("Comma-separated training cells (default: every labelled cell not in "
              "--val-cells).")
@click.option("--val-cells", default=None,
              help="Comma-separated held-out cells: never trained on; validated each epoch "
                   "with support from their training chromosomes (like `prism adapt`).")
@click.option("--val-chroms", default=None,
              help="Comma-separated validation chromosomes (default: see docs).")
@click.option("--test-chroms", default=None,
              help="Comma-separated test chromosomes, never trained or validated on "
                   "(recorded in the checkpoint).")
@click.option("--element-features", "element_features", default=None, metavar="SOURCES",
              help="Per-element features the model reads, comma-separated: discover "
                   "(motifs learned label-free from the training elements), jaspar (JASPAR "
                   "CORE vertebrates), table:PATH (a per-element feature table), conv "
                   "(convolutional sequence towers).  [default: discover]")
@click.option("--arch", type=click.Choice(["prism", "crossattn"]), default=None,
              help="Model: the decoupled energy model, or the plain cross-attention "
                   "baseline.  [default: prism]")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs (with --resume: the new total).  [default: 10]")
@click.option("--batch-episodes", type=click.IntRange(min=1), default=None,
              help="Episodes (one cell each) per optimisation step.  [default: 16]")
@click.option("--steps-per-epoch", type=click.IntRange(min=0), default=None,
              help="Steps per epoch; 0 = the query sets cover the training pairs once, "
                   "and at least 30 steps (train config min_steps_per_epoch).")
@click.option("--lr", type=float, default=None, help="Peak learning rate.  [default: 3e-3]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              default=None,
              help='JSON file {"model": {...}, "train": {...}}; options given here win.')
@device_option
@click.option("--amp", is_flag=True, help="bf16 autocast on CUDA (ignored on CPU).")
@seed_option(None, "Random seed.  [default: 0]")
@threads_option
@out_option("Run directory (config, log, checkpoints).", folder=True)
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its last checkpoint.")
@force_option("Replace an existing run directory (one PRISM wrote).")
@verbosity_options
def command(data, cells, val_cells, val_chroms, test_chroms, element_features, arch, epochs,
            batch_episodes, steps_per_epoch, lr, config_file, device, amp, seed, threads, out,
            resume, force, verbose, quiet):
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

    from ..errors import PrismInputError
    from ..train.loop import TrainRequest, run_training

    model_over, train_over = {}, {}
    if config_file:
        try:
            conf = json.loads(open(config_file).read())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise PrismInputError(f"not a JSON config ({err})", config_file) from None
        if not isinstance(conf, dict) or set(conf) - {"model", "train"}:
            raise PrismInputError('config must be a JSON object with keys "model" and/or "train"',
                                  config_file)
        model_over.update(conf.get("model", {}))
        train_over.update(conf.get("train", {}))
    if arch is not None:
        model_over["arch"] = arch
    for key, value in (("epochs", epochs), ("batch_episodes", batch_episodes),
                       ("steps_per_epoch", steps_per_epoch), ("lr", lr), ("seed", seed)):
        if value is not None:
            train_over[key] = value
    lists = dict(cells=csv_names(cells, "--cells"),
                 val_cells=csv_names(val_cells, "--val-cells") or [],
                 val_chroms=csv_names(val_chroms, "--val-chroms"),
                 test_chroms=csv_names(test_chroms, "--test-chroms"))
    if not resume:  # before any work: --force replaces only a run directory PRISM wrote
        from ..io.atomic import check_writable
        from ..train.loop import RUN_EXISTS

        check_writable(out, force, directory=True, inputs=(data, config_file),
                       advice=RUN_EXISTS)
    req = TrainRequest(data=data, out=out, **lists, element_features=element_features,
                       model=model_over, train=train_over, device=device, amp=amp,
                       resume=resume, force=force, threads=threads, verbose=verbose,
                       quiet=quiet)
    summary = run_training(req)
    if quiet:
        click.echo(f"best epoch {summary['best_epoch']}: validation mean AUPR "
                   f"{summary['best_score']:.4f} -> {summary['out']}", err=True)
