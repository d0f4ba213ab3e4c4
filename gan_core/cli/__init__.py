"""Command line: ``python -m gan_core train|sample|export|info|evaluate|stylize|translate`` (also the
``gan-studio`` console script). One module per command group:

* :mod:`.train`: ``train`` (flags generated from the config's metadata);
* :mod:`.checkpoints`: ``sample`` (images from a checkpoint), ``export`` (the generator to safetensors),
  ``info`` (describe a checkpoint), ``evaluate`` (judge a generator);
* :mod:`.images`: ``stylize`` (Gatys style transfer) and ``translate`` (pix2pix: an edge image or a photo's
  edges to a picture);
* :mod:`.common`: exit codes, the one-line error, image formats.

This package is the only part of gan_core that talks to a terminal (argparse, tqdm, stderr messages);
everything it does goes through the library API.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from gan_core.cli.checkpoints import add_checkpoint_commands
from gan_core.cli.common import EXIT_USAGE, err
from gan_core.cli.images import add_image_commands
from gan_core.cli.train import add_train_command


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_core", description="GAN Studio command line")
    sub = p.add_subparsers(dest="command", required=True)
    add_train_command(sub)
    add_checkpoint_commands(sub)   # sample, export, info, evaluate
    add_image_commands(sub)        # stylize, translate
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = make_parser().parse_args(argv)
    if args.command == "sample" and not (args.out or args.npy):
        err("give --out (PNG grid) and/or --npy")
        return EXIT_USAGE
    return args.fn(args)
