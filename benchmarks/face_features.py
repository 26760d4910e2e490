"""Train the packaged face feature network (SimCLR on the CelebA train split) and write it where latentworks ships it.

    python benchmarks/face_features.py [--threads 2] [--epochs 8] [--out src/latentworks/assets/face_features]

The folder defaults to the development CelebA set (``faces/celebA`` under the data roots). Writes
``model.safetensors``, ``model.json`` and ``README.json`` (data, split, objective, seed, wall and CPU time, the
held-out check) to ``--out``. Only the train split is read for training; the held-out check reads held-out faces.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from latentworks.pipelines.face_features import PACKAGED_FACE_FEATURES, train_face_features
from latentworks.studies.generative_runs import find_faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="folder of faces (default: faces/celebA under the data roots)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(PACKAGED_FACE_FEATURES))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    folder = Path(args.data) if args.data else find_faces(None)
    if folder is None:
        sys.exit("no CelebA folder found; pass --data FOLDER")
    command = "python benchmarks/face_features.py " + shlex.join(sys.argv[1:])
    readme = train_face_features(folder, args.out, epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed,
                                 command=command.strip())
    check = readme["heldout_check"]
    print(f"face features: {readme['train_seconds']:.0f} s wall, {readme['cpu_seconds']:.0f} s CPU "
          f"({readme['threads']} threads); held-out view match {check['view_match_top1']:.1%} of {check['n']}; "
          f"FLD floor {check['fld_floor']:.3f}, blur {check['fld_blur']}, noise {check['fld_noise']}, "
          f"ordered {check['ordered']}")


if __name__ == "__main__":
    main()
