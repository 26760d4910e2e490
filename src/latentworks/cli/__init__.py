"""The ``latentworks`` command: one verb per family, user errors as one line (exit 2), no tracebacks.

Each verb's options are a dataclass (the train verbs: the run config tree itself), parsed by tyro in
:mod:`latentworks.cli.parsing`; this module only dispatches ``latentworks FAMILY VERB ...`` to its handler. The
families and their verbs are the registry's (:mod:`latentworks.registry`); only the commands that belong to no
family are listed here.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence

from latentworks import registry
from latentworks._version import __version__
from latentworks.cli import schema
from latentworks.errors import LatentworksError, TrainingInterrupted, sigterm_as_ctrl_c
from latentworks.registry import Verb

# The commands that belong to no family; each family's verbs come from the registry.
TOP_COMMANDS: dict[str, Verb] = {
    "run": Verb("the main job: a study of every family, one HTML report", "latentworks.cli.report:run"),
    "report": Verb("one self-contained HTML page from run or study folders", "latentworks.cli.report:report"),
    "explore": Verb("an interactive page in the browser for trained runs", "latentworks.cli.explore:explore"),
    "download": Verb("fetch MNIST, Fashion-MNIST or Tiny Shakespeare into the cache (the only network use)",
                     "latentworks.cli.report:download"),
}


def commands() -> dict[str, tuple[str, Verb | dict[str, Verb]]]:
    """Every command: name -> (help, its handler, or a family's verbs)."""
    out: dict[str, tuple[str, Verb | dict[str, Verb]]] = {name: (v.help, v) for name, v in TOP_COMMANDS.items()}
    out.update({f.cli: (f.help, f.verbs) for f in registry.families()})
    return out


def _overview() -> str:
    lines = [f"usage: latentworks COMMAND [VERB] [OPTIONS]   (latentworks {__version__})", "",
             "RNN encoder-decoders, generative models and character RNNs, measured honestly.", "", "commands:"]
    for name, (text, verbs) in commands().items():
        lines.append(f"  {name:<11} {text}")
        if isinstance(verbs, dict):
            lines += [f"    {verb:<13} {v.help}" for verb, v in verbs.items()]
    lines += ["", "`latentworks COMMAND [VERB] --help` lists a command's options."]
    return "\n".join(lines)


def dispatch(argv: Sequence[str]) -> int:
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"latentworks {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    known = commands()
    if name not in known:
        raise LatentworksError(f"unknown command {name!r}; choose one of {', '.join(known)} "
                               "(latentworks --help lists them)")
    text, target = known[name]
    if isinstance(target, Verb):
        if schema.answer(name, rest, f"latentworks {name}"):  # --help and flag typos, before torch loads
            return 0
        return int(registry.resolve(target.handler)(rest, f"latentworks {name}") or 0)
    verbs = target
    if not rest or rest[0] in ("-h", "--help"):
        print(f"usage: latentworks {name} VERB [OPTIONS]\n\n{text}\n\nverbs:")
        print("\n".join(f"  {verb:<13} {v.help}" for verb, v in verbs.items()))
        return 0 if rest else 2
    verb = rest[0]
    if verb not in verbs:
        raise LatentworksError(f"unknown verb {verb!r} for `latentworks {name}`; choose one of {', '.join(verbs)}")
    if schema.answer(f"{name}-{verb}", rest[1:], f"latentworks {name} {verb}"):
        return 0
    return int(registry.resolve(verbs[verb].handler)(rest[1:], f"latentworks {name} {verb}") or 0)


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


def _on_the_way_out(as_program: bool) -> None:
    """An interrupted command is leaving (its checkpoint saved or left as it was): a further Ctrl-C or SIGTERM
    must not cut that short into a traceback or a death by signal (exit -2) instead of 130. Only when ``main`` is
    the program (its argv from the command line): called from Python, the caller's Ctrl-C must keep working."""
    if as_program and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with sigterm_as_ctrl_c():
            return dispatch(sys.argv[1:] if argv is None else argv)
    except TrainingInterrupted as err:
        _on_the_way_out(argv is None)
        print(f"latentworks: {err}", file=sys.stderr)
        return 130
    except LatentworksError as err:
        print(f"latentworks: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _on_the_way_out(argv is None)
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
