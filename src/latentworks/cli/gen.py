"""``latentworks gen train`` (and the latent-tool verbs that ``latentworks.cli.gen_tools`` adds).

    latentworks gen train --model vae|cae|dcgan|cvae|cgan --data mnist|fashion-mnist|PATH --size 28 \\
        --epochs E --out DIR [--resume] [--preset notebook] [--latent-dim D] [...builder options]
"""

from __future__ import annotations

import argparse
import json

from latentworks.cli.common import add_common

MODELS = ("vae", "cae", "dcgan", "cvae", "cgan")


def add_parser(sub) -> argparse._SubParsersAction:
    """Create ``latentworks gen`` and its verbs; returns the verbs' subparsers so more can be attached."""
    p = sub.add_parser(
        "gen", help="generative models: CAE, VAE, DCGAN, CVAE, cGAN (train, then latent tools)"
    )
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = verbs.add_parser(
        "train",
        help="train one generative model into a run folder",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument("--model", required=True, choices=MODELS)
    t.add_argument("--data", default="mnist", help="mnist, fashion-mnist, or a folder of images (recursive)")
    t.add_argument("--size", type=int, default=28, help="image side: 28, or a power of two from 8 to 1024")
    t.add_argument(
        "--channels", type=int, choices=[1, 3], help="1 grey, 3 RGB (default: 1 digits, 3 folders)"
    )
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--out", required=True, help="run folder to write")
    t.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    t.add_argument(
        "--preset",
        default="default",
        choices=["default", "notebook"],
        help="notebook: the course's stacks, losses, optimizer and batch sizes",
    )
    t.add_argument("--latent-dim", type=int, help="latent size (default: the preset's)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--schedule", default="constant", choices=["constant", "cosine", "linear", "onecycle"])
    t.add_argument("--beta", type=float, default=1.0, help="VAE: weight of the KL term")
    t.add_argument(
        "--loss",
        choices=["elbo", "notebook", "bce", "mse"],
        help="VAE: elbo | notebook (course weighting); CAE: bce | mse",
    )
    t.add_argument(
        "--likelihood",
        default="bernoulli",
        choices=["bernoulli", "gaussian"],
        help="VAE decoder: bernoulli (BCE summed per image) or gaussian (squared error)",
    )
    t.add_argument("--binarize", action="store_true", help="VAE: dynamically binarised training images")
    t.add_argument(
        "--gan-scheme",
        choices=["default", "notebook"],
        help="GAN: separate Adams (default) or the course's shared optimizer and half batches",
    )
    t.add_argument("--limit", type=int, help="train on a fixed random subset of this many images")
    t.add_argument("--holdout", type=float, default=0.1, help="folders: share of images held out for scoring")
    t.add_argument(
        "--background",
        default="white",
        choices=["white", "black"],
        help="folders: what transparent pixels are composited on",
    )
    b = t.add_argument_group("builder options (default: the preset's)")
    b.add_argument(
        "--enc-depth",
        "--d-depth",
        dest="enc_depth",
        type=int,
        help="stride-2 convs in the encoder / discriminator",
    )
    b.add_argument(
        "--dec-depth",
        "--g-depth",
        dest="dec_depth",
        type=int,
        help="transposed convs in the decoder / generator",
    )
    b.add_argument("--filters", type=int, help="filters of the first level (doubled per level)")
    b.add_argument("--max-filters", type=int, help="cap on the doubling (seed 001: 32→256)")
    b.add_argument("--kernel", type=int, choices=[3, 4, 5])
    b.add_argument("--norm", choices=["none", "batch"])
    b.add_argument("--dropout", type=float, help="dropout in the encoder / discriminator")
    b.add_argument("--activation", choices=["leakyrelu", "relu"], help="encoder / discriminator activation")
    b.add_argument("--dec-activation", choices=["leakyrelu", "relu"], help="decoder / generator activation")
    b.add_argument("--init", choices=["normal", "xavier", "torch"], help="normal: N(0, 0.02); xavier: Glorot")
    b.add_argument("--cond-embed", choices=["onehot", "embedding"], help="conditional: how labels join z")
    b.add_argument(
        "--d-cond",
        choices=["channels", "projection", "both"],
        help="cGAN: how labels enter the discriminator",
    )
    b.add_argument(
        "--d-norm",
        choices=["none", "batch", "spectral"],
        help="GANs: the discriminator's normalisation (default: --norm); spectral = SN-GAN",
    )
    b.add_argument("--d-lr", type=float, help="GANs: the discriminator's learning rate (default: --lr)")
    b.add_argument(
        "--ema", type=float, help="GANs: sample from an average of the generator's weights with this decay (0.999)"
    )
    b.add_argument(
        "--codes",
        type=int,
        help="DCGAN: an InfoGAN categorical code with this many values (10 for digits), learnt without labels",
    )
    b.add_argument(
        "--pixel-layers",
        type=int,
        help="VAE: masked PixelCNN layers after the decoder (autoregressive, binary grey images; 0: none)",
    )
    b.add_argument("--pixel-channels", type=int, help="VAE: width of the PixelCNN head (default 32)")
    e = t.add_argument_group("evaluation")
    e.add_argument("--snapshot-grid", type=int, default=8, help="n×n fixed latents drawn after every epoch")
    e.add_argument("--eval-images", type=int, default=1000, help="held-out images scored after every epoch")
    e.add_argument(
        "--iw-k", type=int, default=0, help="VAE: importance samples for the final IW-NLL (0: skip)"
    )
    e.add_argument("--iw-images", type=int, default=1000, help="VAE: held-out images for the IW-NLL")
    add_common(t)
    t.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's; 1 is often fastest)")
    t.set_defaults(handler=_train)

    add_tool_verbs(verbs)
    return verbs


def add_tool_verbs(verbs) -> None:
    """Hook for the latent-tool verbs (sample, interpolate, …), defined in ``latentworks.cli.gen_tools``."""
    try:
        from latentworks.cli import gen_tools
    except ModuleNotFoundError as err:
        if err.name != "latentworks.cli.gen_tools":
            raise
        return
    gen_tools.add_verbs(verbs)


def config_from_args(args):
    """Every ``GenConfig`` field comes from the flag of the same name (the parser defines one per field)."""
    import dataclasses

    from latentworks.pipelines.generative import GenConfig

    return GenConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(GenConfig)})


def _train(args) -> int:
    from latentworks.pipelines.generative import train_generative

    results = train_generative(config_from_args(args), args.out, resume=args.resume)
    if results is not None:
        print(json.dumps({"out": args.out, "test": results["test"], "train": results["train"]}))
    return 0
