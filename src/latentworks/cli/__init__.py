"""The ``latentworks`` command: one verb per family, user errors as one line (exit 2), no tracebacks.

Each verb's options are a dataclass (the train verbs: the run config tree itself), parsed by tyro in
:mod:`latentworks.cli.parsing`; this module only dispatches ``latentworks FAMILY VERB ...`` to its handler.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Sequence

from latentworks import __version__
from latentworks.errors import LatentworksError, TrainingInterrupted, sigterm_as_ctrl_c

# name -> (help, "module:function") for top-level verbs, or (help, {verb: (help, "module:function")}).
COMMANDS: dict[str, tuple[str, object]] = {
    "run": ("the main job: a study of every family, one HTML report", "latentworks.cli.report:run"),
    "report": ("one self-contained HTML page from run or study folders", "latentworks.cli.report:report"),
    "explore": ("an interactive page in the browser for trained runs", "latentworks.cli.explore:explore"),
    "download": ("fetch MNIST or Fashion-MNIST into the cache (the only command that uses the network)",
                 "latentworks.cli.report:download"),
    "arithmetic": ("encoder-decoders that learn + - × from text and handwriting", {
        "train": ("train one model and score it on held-out queries", "latentworks.cli.arithmetic:train"),
        "sweep": ("train at several train fractions; curves and exact match vs fraction",
                  "latentworks.cli.arithmetic:sweep"),
        "predict": ("answer a query with a trained run", "latentworks.cli.arithmetic:predict"),
        "render": ("draw a query in MNIST test-split handwriting as a PNG strip", "latentworks.cli.arithmetic:render"),
        "eval": ("score a text→text run on longer operands than it trained on (length generalisation)",
                 "latentworks.cli.arithmetic:evaluate"),
    }),
    "gen": ("generative models: CAE, VAE, DCGAN, CVAE, cGAN and their latent spaces", {
        "train": ("train one generative model into a run folder", "latentworks.cli.gen:train"),
        "sample": ("an n×n grid of samples, cells numbered for picking", "latentworks.cli.gen_tools:sample"),
        "interpolate": ("two random points and the line between them", "latentworks.cli.gen_tools:interpolate"),
        "traverse": ("a path through several random points: PNG strip or GIF", "latentworks.cli.gen_tools:traverse"),
        "arith": ("decode mean(A) − mean(B) + mean(C) by cell indices of a sample grid",
                  "latentworks.cli.gen_tools:arith"),
        "sweep-dim": ("vary one latent coordinate", "latentworks.cli.gen_tools:sweep_dim"),
        "manifold": ("the decoded grid over normal quantiles of a 2-D latent", "latentworks.cli.gen_tools:manifold"),
        "codes": ("an InfoGAN-coded GAN: one row per code, the same noise per column",
                  "latentworks.cli.gen_tools:codes"),
        "reconstruct": ("your images through a CAE / VAE / CVAE", "latentworks.cli.gen_tools:reconstruct"),
        "encode": ("latent vectors of your images (CAE / VAE / CVAE)", "latentworks.cli.gen_tools:encode"),
        "decode": ("decode latent vectors from a JSON file (what `encode -o` writes)",
                   "latentworks.cli.gen_tools:decode"),
        "eval": ("MNIST evaluation with the digit reader: FLD and its floor, precision/recall, classes, NLL",
                 "latentworks.cli.gen_tools:evaluate"),
    }),
    "charrnn": ("character RNNs: NumPy from scratch or a torch LSTM", {
        "train": ("train a character model and report held-out nats/char", "latentworks.cli.charrnn:train"),
        "sample": ("generate text from a trained run (either backend)", "latentworks.cli.charrnn:sample"),
        "study": ("the char-RNN part of the study alone", "latentworks.cli.charrnn:study"),
    }),
}


def _overview() -> str:
    lines = [f"usage: latentworks COMMAND [VERB] [OPTIONS]   (latentworks {__version__})", "",
             "RNN encoder-decoders, generative models and character RNNs, measured honestly.", "", "commands:"]
    for name, (text, verbs) in COMMANDS.items():
        lines.append(f"  {name:<11} {text}")
        if isinstance(verbs, dict):
            lines += [f"    {verb:<13} {vt}" for verb, (vt, _) in verbs.items()]
    lines += ["", "`latentworks COMMAND [VERB] --help` lists a command's options."]
    return "\n".join(lines)


def _handler(target: str):
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def dispatch(argv: Sequence[str]) -> int:
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"latentworks {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        raise LatentworksError(f"unknown command {name!r}; choose one of {', '.join(COMMANDS)} "
                               "(latentworks --help lists them)")
    text, target = COMMANDS[name]
    if isinstance(target, str):
        return int(_handler(target)(rest, f"latentworks {name}") or 0)
    verbs = target
    if not rest or rest[0] in ("-h", "--help"):
        print(f"usage: latentworks {name} VERB [OPTIONS]\n\n{text}\n\nverbs:")
        print("\n".join(f"  {verb:<13} {vt}" for verb, (vt, _) in verbs.items()))
        return 0 if rest else 2
    verb = rest[0]
    if verb not in verbs:
        raise LatentworksError(f"unknown verb {verb!r} for `latentworks {name}`; choose one of {', '.join(verbs)}")
    return int(_handler(verbs[verb][1])(rest[1:], f"latentworks {name} {verb}") or 0)


def _os_error(err: OSError) -> str:
    where = f" writing {err.filename}" if err.filename else ""
    if err.errno == errno.ENOSPC:
        return f"no space left on the device{where}; free some space (earlier files and checkpoints are intact)"
    if err.errno == errno.EROFS:
        return f"the file system is read-only{where}; pick an output folder you can write to"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}; pick an output folder you can write to"
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"no such file or folder{where}; check the path (an output's folder must exist)"
    return f"{err.strerror or err}{where}; check the path and the disk"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with sigterm_as_ctrl_c():
            return dispatch(sys.argv[1:] if argv is None else argv)
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
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOENT,
                         errno.ENOTDIR, errno.EIO):
            print(f"latentworks: error: {_os_error(err)}", file=sys.stderr)
            return 2
        raise
