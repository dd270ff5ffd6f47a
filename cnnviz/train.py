"""Train a bundled digit model: ``python -m cnnviz.train digits``.

Writes ``assets/<name>.pt`` (state dict) and ``assets/<name>.json`` (model card). The defaults
reproduce the shipped weights; see ``cnnviz.training.TrainConfig`` for what each option means.
"""

from __future__ import annotations

import argparse
import sys

import torch

from cnnviz.models.registry import MODELS
from cnnviz.training import DataUnavailable, EpochReport, TrainConfig, save_model, train_digits

DIGIT_MODELS = [name for name, spec in MODELS.items() if spec.preprocessing == "mnist"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m cnnviz.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default="digits", choices=DIGIT_MODELS)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak AdamW learning rate")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--no-augment", action="store_true", help="train without random affine")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", default=None, help="output folder (default: assets/)")
    parser.add_argument("--full-mnist", action="store_true",
                        help="train on torchvision's full MNIST (downloads it; needs internet)")
    parser.add_argument("--data-dir", default=defaults.data_dir, help="where --full-mnist keeps it")
    parser.add_argument("--validation", action="store_true",
                        help="evaluate on a validation split of the training images and save "
                             "nothing (to choose settings without looking at held-out images)")
    parser.add_argument("--max-train-images", type=int, default=None,
                        help="train on the first N training images only (quick runs)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (results are reproducible for a fixed count)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config = TrainConfig(
        model=args.model, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
        augment=not args.no_augment, seed=args.seed, max_train_images=args.max_train_images,
        full_mnist=args.full_mnist, data_dir=args.data_dir, validation=args.validation,
    )

    def report(r: EpochReport) -> None:
        print(f"epoch {r.epoch:3d}/{r.epochs}  loss {r.loss:.4f}  train acc {r.train_accuracy:.4f}"
              f"  {'validation' if config.validation else 'held-out'} acc "
              f"{r.heldout_accuracy:.4f}  {r.seconds:6.1f} s", flush=True)

    try:
        result = train_digits(config, on_epoch=report)
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


if __name__ == "__main__":
    sys.exit(main())
