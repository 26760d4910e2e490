"""``latentworks arithmetic train | predict | render | sweep``."""

from __future__ import annotations

import argparse
import json

from latentworks.cli.common import add_common, fraction_list


def add_parser(sub) -> None:
    p = sub.add_parser("arithmetic", help="encoder-decoders that learn + - × from text and handwriting")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = verbs.add_parser("train", help="train one model and score it on held-out queries")
    _model_args(t)
    t.add_argument("--train-fraction", type=float, default=0.5, help="share of all queries used for training")
    t.add_argument("--out", required=True, help="run folder to write")
    t.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    t.set_defaults(handler=_train)

    s = verbs.add_parser("sweep", help="train at several train fractions; curves + exact match vs fraction")
    _model_args(s)
    s.add_argument("--train-fractions", default="0.05,0.1,0.25,0.5")
    s.add_argument("--out", default="runs/sweep", help="folder for the runs and the sweep figures")
    s.set_defaults(handler=_sweep)

    pr = verbs.add_parser("predict", help="answer a query with a trained run")
    pr.add_argument("run_dir")
    pr.add_argument("query", help="e.g. '12+34'")
    pr.add_argument("--image", help="img2text: a (28, 28*L) PNG strip of the query")
    pr.add_argument("-o", "--output", help="text2img: where to write the answer PNG (default answer.png)")
    add_common(pr)
    pr.set_defaults(handler=_predict)

    r = verbs.add_parser("render", help="draw a query with MNIST test-split digits as a PNG strip")
    r.add_argument("query")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--max-int", type=int, default=99)
    r.add_argument("--ops", default="+-")
    r.add_argument("--layout", default="v23", choices=["v23", "v21"])
    add_common(r)
    r.set_defaults(handler=_render)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="text2text", choices=["text2text", "img2text", "text2img"])
    p.add_argument("--preset", default="best", choices=["notebook", "attention", "best"],
                   help="notebook: the course's model; best: our most accurate recipe; attention (text2text): "
                        "the best generic attention encoder-decoder, with no column re-layout")
    p.add_argument("--max-int", type=int, default=99, help="largest operand (99: course V23, 199: V21)")
    p.add_argument("--ops", default="+-", help="operators, e.g. '+-' or '+-*' ('×' and 'x' mean '*')")
    p.add_argument("--layout", default="v23", choices=["v23", "v21"], help="course padding convention")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--cell", choices=["lstm", "gru"], help="recurrent cell (variant of the preset)")
    p.add_argument("--hidden", type=int, help="hidden size (variant)")
    p.add_argument("--encoder-layers", type=int, choices=[1, 2, 3], help="encoder depth (variant)")
    p.add_argument("--encoder", choices=["cnn", "convlstm", "flatten"], help="img2text image encoder")
    p.add_argument("--loss", choices=["bce", "mse"], help="text2img pixel loss")
    p.add_argument("--reader", help="text2img: folder of a trained digit reader (default: cached or trained)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the query split (fixed across --seed)")
    add_common(p)


def _config(args, fraction: float):
    from latentworks.data.arithmetic import normalize_op
    from latentworks.pipelines.arithmetic import ArithmeticConfig

    ops = "".join(normalize_op(c) for c in args.ops)
    return ArithmeticConfig(
        task=args.task, train_fraction=fraction, preset=args.preset, max_int=args.max_int, ops=ops,
        layout=args.layout, seed=args.seed, split_seed=args.split_seed, data_dir=args.data_dir,
        device=args.device, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, cell=args.cell,
        hidden=args.hidden, encoder_layers=args.encoder_layers, encoder=args.encoder, loss=args.loss,
        reader=args.reader, progress=args.progress,
    )


def _train(args) -> int:
    from latentworks.pipelines.arithmetic import train

    results = train(_config(args, args.train_fraction), args.out, resume=args.resume)
    if results is not None:
        print(json.dumps({"out": args.out, "test": _headline(results["test"]), "train": results["train"]}))
    return 0


def _headline(test: dict) -> dict:
    return {k: v for k, v in test.items() if not isinstance(v, dict)}


def _sweep(args) -> int:
    from latentworks.pipelines.sweep import sweep

    summary = sweep(lambda f: _config(args, f), fraction_list(args.train_fractions), args.out)
    print(json.dumps(summary))
    return 0


def _predict(args) -> int:
    from latentworks.pipelines.arithmetic import predict

    print(predict(args.run_dir, args.query, image=args.image, out_png=args.output, data_dir=args.data_dir,
                  seed=args.seed))
    return 0


def _render(args) -> int:
    from latentworks.data.arithmetic import ArithmeticSpec, normalize_op
    from latentworks.pipelines.arithmetic import render_query

    spec = ArithmeticSpec(max_int=args.max_int, ops="".join(normalize_op(c) for c in args.ops),
                          layout=args.layout)
    print(render_query(args.query, args.output, spec=spec, data_dir=args.data_dir, seed=args.seed))
    return 0
