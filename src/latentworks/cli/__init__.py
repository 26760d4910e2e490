"""The ``latentworks`` command: one verb per family, user errors as one line, no tracebacks."""

from __future__ import annotations

import argparse
import os
import sys

from latentworks import __version__
from latentworks.errors import LatentworksError, TrainingInterrupted


def build_parser() -> argparse.ArgumentParser:
    from latentworks.cli import arithmetic, charrnn, gen, report

    parser = argparse.ArgumentParser(
        prog="latentworks",
        description="RNN encoder-decoders, generative models and character RNNs, measured honestly.",
    )
    parser.add_argument("--version", action="version", version=f"latentworks {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    arithmetic.add_parser(sub)
    charrnn.add_parser(sub)
    report.add_parsers(sub)
    gen.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except TrainingInterrupted as err:
        print(f"latentworks: {err}", file=sys.stderr)
        return 130
    except LatentworksError as err:
        print(f"latentworks: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("latentworks: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
