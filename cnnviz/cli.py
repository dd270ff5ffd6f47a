"""The command line: ``python -m cnnviz train digits`` or ``python -m cnnviz train shapes``.

``train`` writes ``assets/<name>.pt`` (state dict) and ``assets/<name>.json`` (model card). The
defaults reproduce the shipped weights; see ``cnnviz.models.training.TrainConfig`` (digits) and
``ShapesConfig`` (shapes) for what each option means.
"""

from __future__ import annotations

import argparse
import sys

import torch

from cnnviz.data.mnist import DataUnavailable
from cnnviz.models.registry import MODELS
from cnnviz.models.training import (
    EpochReport,
    ShapesConfig,
    TrainConfig,
    save_model,
    train_digits,
    train_shapes,
)

__all__ = ["main", "make_config", "parse_args"]

DIGIT_MODELS = [name for name, spec in MODELS.items() if spec.preprocessing == "mnist"]
SHAPE_MODELS = [name for name, spec in MODELS.items() if spec.preprocessing == "shapes_rgb"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``python -m cnnviz ARGV``: the command (``train``) and its options."""
    digits, shapes = TrainConfig(), ShapesConfig()

    def default(name: str) -> str:
        return f"default: {getattr(digits, name)} for digits, {getattr(shapes, name)} for shapes"

    top = argparse.ArgumentParser(prog="python -m cnnviz", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser = commands.add_parser("train", help="train a bundled model and save its weights",
                                 description="Train a bundled model; the defaults reproduce "
                                 "the shipped weights.")
    parser.add_argument("model", nargs="?", default="digits", choices=DIGIT_MODELS + SHAPE_MODELS)
    # None means "the model's own default" (TrainConfig or ShapesConfig).
    parser.add_argument("--epochs", type=int, default=None, help=default("epochs"))
    parser.add_argument("--lr", type=float, default=None,
                        help=f"peak AdamW learning rate ({default('lr')})")
    parser.add_argument("--batch-size", type=int, default=None, help=default("batch_size"))
    parser.add_argument("--no-augment", action="store_true",
                        help="train without augmentation (digits: random affine; shapes: "
                             "random flips and transposes)")
    parser.add_argument("--seed", type=int, default=None, help=default("seed"))
    parser.add_argument("--out", default=None, help="output folder (default: assets/)")
    parser.add_argument("--full-mnist", action="store_true",
                        help="digits only: train on torchvision's full MNIST (downloads it; "
                             "needs internet)")
    parser.add_argument("--data-dir", default=digits.data_dir,
                        help="digits only: where --full-mnist keeps it")
    parser.add_argument("--validation", action="store_true",
                        help="evaluate on a validation set and save nothing (to choose settings "
                             "without looking at held-out images)")
    parser.add_argument("--max-train-images", type=int, default=None,
                        help="train on the first N training images only (quick runs; shapes: "
                             f"default {shapes.train_images})")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (results are reproducible for a fixed count)")
    args = top.parse_args(argv)
    if args.model in SHAPE_MODELS and args.full_mnist:
        parser.error("--full-mnist is for the digit models; the shapes are generated")
    return args


def make_config(args: argparse.Namespace) -> TrainConfig | ShapesConfig:
    """The training settings of the parsed command line, the model's defaults filled in."""
    given = {name: getattr(args, name) for name in ("epochs", "lr", "batch_size", "seed")
             if getattr(args, name) is not None}
    common = dict(model=args.model, augment=not args.no_augment, validation=args.validation,
                  **given)
    if args.model in SHAPE_MODELS:
        if args.max_train_images is not None:
            common["train_images"] = args.max_train_images
        return ShapesConfig(**common)
    return TrainConfig(max_train_images=args.max_train_images, full_mnist=args.full_mnist,
                       data_dir=args.data_dir, **common)


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m cnnviz`` with ``argv`` (default: the process's arguments); the exit
    code."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config = make_config(args)

    def report(r: EpochReport) -> None:
        print(f"epoch {r.epoch:3d}/{r.epochs}  loss {r.loss:.4f}  train acc {r.train_accuracy:.4f}"
              f"  {'validation' if config.validation else 'held-out'} acc "
              f"{r.heldout_accuracy:.4f}  {r.seconds:6.1f} s", flush=True)

    train = train_shapes if isinstance(config, ShapesConfig) else train_digits
    try:
        result = train(config, on_epoch=report)
    except DataUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    what = "validation" if config.validation else "held-out"
    print(f"{what} accuracy {result.heldout_accuracy:.4f} on {len(result.data.test_y)} images, "
          f"{result.seconds:.1f} s")
    if config.validation:
        return 0
    weights_path, card_path = save_model(result, args.out)
    print(f"wrote {weights_path} ({weights_path.stat().st_size / 1e6:.2f} MB) and {card_path}")
    return 0
