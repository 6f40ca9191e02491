"""Options and set-up shared by the commands that use a trained model."""

from __future__ import annotations

import click

model_option = click.option(
    "-m", "--model", "model_path", required=True, type=click.Path(exists=True),
    help="Trained model: a `prism train` run folder, a model folder, or a checkpoint file.")
fasta_option = click.option("-g", "--fasta", required=True, type=click.Path(dir_okay=False),
                            help="Genome FASTA the pairs' coordinates refer to.")
registry_option = click.option(
    "--registry", type=click.Path(file_okay=False), default=None,
    help="Folder of adapted cells (default: the model folder's cells/).")
device_option = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
                             default="auto", show_default=True, help="Where to run the model.")
threads_option = click.option("--threads", type=click.IntRange(min=1), default=None,
                              help="CPU threads for torch (default: torch's choice).")


def load_model(model_path, device: str, threads: int | None):
    """Load a checkpoint for inference on the requested device."""
    import torch

    from ..checkpoint import load_checkpoint
    from ..inference import resolve_device

    if threads:
        torch.set_num_threads(threads)
    return load_checkpoint(model_path, device=resolve_device(device))


def training_support_sizes(meta: dict) -> tuple[int, int]:
    """The support-size range the model was trained with (what adapt must use)."""
    train = meta.get("train_config") or {}
    return int(train.get("support_min", 8)), int(train.get("support_max", 256))


def model_checksum(model_path) -> str:
    """sha256 of the checkpoint's weights file (provenance for adapt/score outputs)."""
    import hashlib

    from ..checkpoint import WEIGHTS_SUFFIX, _prefix

    h = hashlib.sha256()
    with open(_prefix(model_path).with_suffix(WEIGHTS_SUFFIX), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
