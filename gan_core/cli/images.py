"""The picture commands of the command line: ``stylize`` (Gatys et al. style transfer) and ``translate``
(pix2pix: an edge image, or the edges of a photo, to a picture). :func:`add_image_commands` adds them to
gan_core.cli's parser; like the rest of gan_core.cli this module talks to the terminal and leaves the work to the
library (gan_core.img2img.style, gan_core.img2img.translate).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

from gan_core.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, IMAGE_FORMATS as _IMAGE_FORMATS, err as _err  # noqa: F401
from gan_core.config.arguments import cli_type


def _csv_arg(text: Optional[str], cast=str) -> Optional[tuple]:
    """'a,b, c' -> ('a', 'b', 'c') (each cast); None stays None."""
    if text is None:
        return None
    return tuple(cast(v.strip()) for v in text.split(",") if v.strip())


def cmd_stylize(args: argparse.Namespace) -> int:
    """Gatys et al. style transfer of --content in the style of --style, with a progress bar."""
    import io

    from PIL import Image
    from tqdm import tqdm

    from gan_core.img2img import style as S
    from gan_core.storage.fileio import atomic_write_bytes

    fmt = _IMAGE_FORMATS.get(Path(args.out).suffix.lower())
    if fmt is None:
        _err(f"--out {args.out}: the file name must end in {', '.join(_IMAGE_FORMATS)} (the image format)")
        return EXIT_USAGE
    try:
        fields: dict[str, Any] = {"steps": args.steps, "image_size": args.size, "optimizer": args.optimizer,
                                  "init": args.init, "seed": args.seed, "device": args.device, "preview_every": 0}
        for name in ("alpha", "beta", "lr"):
            if getattr(args, name) is not None:
                fields[name] = getattr(args, name)
        if args.content_layers is not None:
            fields["content_layers"] = _csv_arg(args.content_layers)
        if args.style_layers is not None:
            fields["style_layers"] = _csv_arg(args.style_layers)
        if args.style_weights is not None:
            try:
                fields["style_weights"] = _csv_arg(args.style_weights, float)
            except ValueError:
                raise ValueError(f"--style-weights must be a comma list of numbers, got {args.style_weights!r}") from None
        cfg = S.StyleConfig(**fields).validate()
        content, style_img = S.read_image(args.content), S.read_image(args.style)
        net = S.load_vgg19(args.weights, download=not args.no_download)
        S.check_layers(net, cfg)
    except ValueError as e:  # StyleError, WeightsUnavailable, a --style-weights value that is not a number
        _err(str(e))
        return EXIT_USAGE
    done = None
    with tqdm(total=cfg.steps, desc="stylize", unit="step", dynamic_ncols=True, disable=args.quiet,
              file=sys.stderr) as bar:
        try:
            for ev in S.stylize(content, style_img, cfg, net=net):
                if isinstance(ev, S.StyleStep):
                    bar.update(1)
                    bar.set_postfix(loss=f"{ev.loss:.4g}", content=f"{ev.content:.3g}", style=f"{ev.style:.3g}",
                                    refresh=False)
                elif isinstance(ev, S.StyleDone):
                    done = ev
        except ValueError as e:  # a loss that became NaN/inf, a layer this network does not have
            bar.close()
            _err(str(e))
            return EXIT_FAIL if isinstance(e, S.StyleError) and "became" in str(e) else EXIT_USAGE
    assert done is not None
    buf = io.BytesIO()
    Image.fromarray(done.image).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    try:
        atomic_write_bytes(args.out, lambda f: f.write(buf.getvalue()))
    except OSError as e:
        _err(str(e))
        return EXIT_USAGE
    if not args.quiet:
        sys.stdout.write(f"wrote {args.out} ({done.image.shape[1]}x{done.image.shape[0]}): loss "
                         f"{done.first_loss:.4g} -> {done.loss:.4g} in {done.steps} steps, {done.seconds:.1f} s\n")
    return EXIT_OK


def _write_picture(path: str, img: Any) -> Optional[str]:
    """Save a (H, W) or (H, W, 3) uint8 array in the format its suffix names; an error message or None."""
    import io

    from PIL import Image

    from gan_core.storage.fileio import atomic_write_bytes

    fmt = _IMAGE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        return f"{path}: the file name must end in {', '.join(_IMAGE_FORMATS)} (the image format)"
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    try:
        atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))
    except OSError as e:
        return f"cannot write {path}: {e.strerror or e}"
    return None


def cmd_translate(args: argparse.Namespace) -> int:
    """pix2pix: --input (an edge drawing, dark lines on white; with --from-photo a picture whose Canny
    edges are computed first), with --hints (a picture of colour dabs) for a generator trained with colour
    hints and --tags for one that takes tags, through the generator of --checkpoint, written to --out."""
    from PIL import Image, UnidentifiedImageError

    import torch

    from gan_core.img2img import translate as T
    from gan_core.data.hints import hints_from_picture

    for flag, path in (("--out", args.out), ("--edges-out", args.edges_out)):
        if path is not None and Path(path).suffix.lower() not in _IMAGE_FORMATS:
            _err(f"{flag} {path}: the file name must end in {', '.join(_IMAGE_FORMATS)} (the image format)")
            return EXIT_USAGE
    if args.edges_out and not args.from_photo:
        _err("--edges-out saves the edges computed from a photo: give --from-photo too")
        return EXIT_USAGE
    try:
        G, _, spec = T.load_translator(args.checkpoint, args.device, with_spec=True)
        tags = T.parse_translate_tags(G, spec, args.tags) if args.tags else None
    except (T.TranslateError, ValueError) as e:
        _err(str(e))
        return EXIT_USAGE
    if args.hints is not None and not T.takes_hints(G):
        _err(f"--hints: {args.checkpoint} was trained on edges alone and takes no colour hints")
        return EXIT_USAGE
    pictures = {}
    for flag, path in (("--input", args.input), ("--hints", args.hints)):
        if path is None:
            continue
        try:
            with Image.open(path) as im:
                im.load()
                pictures[flag] = im.copy()
        except FileNotFoundError:
            _err(f"{flag} {path} does not exist")
            return EXIT_USAGE
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
            _err(f"{flag} {path} is not a readable picture ({str(e).splitlines()[0][:120]})")
            return EXIT_USAGE
    picture, hint_pic = pictures["--input"], pictures.get("--hints")
    size = G.image_size
    if args.from_photo:
        edges = T.edges_of_photo(picture, size)[0].numpy()
        hints = hints_from_picture(hint_pic, size) if hint_pic is not None else None
        out = T.translate(G, torch.from_numpy(edges), seed=args.seed, hints=hints, tags=tags).permute(1, 2, 0).numpy()
    else:   # a drawing: for a hint generator its coloured strokes are dabs too
        view = T.sketch_view(G, picture, seed=args.seed, hints=hint_pic, tags=tags)
        edges, hints, out = view["edges"], view["hints"], view["picture"]
    for path, img in ((args.edges_out, edges), (args.out, out)):
        if path is not None:
            msg = _write_picture(path, img)
            if msg is not None:
                _err(msg)
                return EXIT_FAIL
    if not args.quiet:
        extra = f" and its edges to {args.edges_out}" if args.edges_out else ""
        if hints is not None:
            extra += f" (with {int((hints[3] > 0).sum())} pixels of colour dabs)"
        sys.stdout.write(f"wrote {args.out} ({size}x{size}){extra}\n")
    return EXIT_OK


def add_image_commands(sub: Any) -> None:
    """Add ``stylize`` and ``translate`` to the sub-command parsers of gan_core.cli."""
    sty = sub.add_parser("stylize", help="neural style transfer (Gatys et al. 2016) with VGG19",
                        description="Optimise a picture with the content of --content and the style of --style. "
                        "VGG19 weights: --weights, else $GAN_STUDIO_VGG19, else torchvision's download "
                        "(file vgg19-dcbb9e9d.pth).")
    sty.add_argument("--content", required=True, help="content picture")
    sty.add_argument("--style", required=True, help="style picture")
    sty.add_argument("--out", required=True, help="result (.png, .jpg, .webp or .bmp)")
    sty.add_argument("--steps", type=int, default=300, help="optimiser iterations (default 300)")
    sty.add_argument("--size", type=int, default=256, help="longest side of the result in pixels (default 256)")
    sty.add_argument("--alpha", type=float, help="content weight (default 1)")
    sty.add_argument("--beta", type=float, help="style weight (default 1000)")
    sty.add_argument("--content-layers", help="comma list (default relu4_2)")
    sty.add_argument("--style-layers", help="comma list (default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)")
    sty.add_argument("--style-weights", help="comma list of w_l, one per style layer (default: 1/N_l^2, normalised)")
    sty.add_argument("--optimizer", default="lbfgs", help="lbfgs (default) or adam")
    sty.add_argument("--lr", type=float, help="step size (default 1 for L-BFGS, 0.02 for Adam)")
    sty.add_argument("--init", default="content", help="start from: content (default), noise or style")
    sty.add_argument("--seed", type=cli_type("seed"), default=0)
    sty.add_argument("--device", default="cpu")
    sty.add_argument("--weights", help="VGG19 weights file (a VGG state dict: .pth or .safetensors)")
    sty.add_argument("--no-download", action="store_true", help="never let torchvision download the weights")
    sty.add_argument("--quiet", action="store_true")
    sty.set_defaults(fn=cmd_stylize)

    tr = sub.add_parser("translate", help="pix2pix: turn an edge drawing (or a photo's edges) into a picture",
                        description="Run a pix2pix generator (e.g. checkpoints/faces_pix2pix.safetensors) on an "
                        "edge image: dark lines on a light background, any size (center-cropped to a square and "
                        "shrunk to the generator's size).")
    tr.add_argument("--checkpoint", required=True, help="pix2pix checkpoint (.pt) or generator export (.safetensors)")
    tr.add_argument("--input", required=True, help="edge drawing (with --from-photo: a picture)")
    tr.add_argument("--out", required=True, help="the picture (.png, .jpg, .webp or .bmp)")
    tr.add_argument("--from-photo", action="store_true", help="--input is a picture: compute its Canny edges first")
    tr.add_argument("--edges-out", help="with --from-photo: also save the computed edges here")
    tr.add_argument("--hints", help="colour hints for a generator trained with them: a picture (PNG) of coloured "
                    "dabs on white or transparent paper, the same framing as --input; G paints those places "
                    "in about those colours")
    tr.add_argument("--tags", help='for a tag-conditional generator (arch pix2pix-tags): e.g. "blue hair, red eyes" '
                    '(as for sample --tags); "random hair" or a group left out: picked at random from --seed')
    tr.add_argument("--seed", type=cli_type("seed"), default=0,
                    help="fixes G's dropout noise (when it is kept at test time) and the random tag picks")
    tr.add_argument("--device", default="cpu")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(fn=cmd_translate)
