"""The char-RNN family: character models from scratch in NumPy, and a torch LSTM."""

from latentworks.registry import VAL_ACC, VAL_LOSS, Family, Verb, declare_family

FAMILY = declare_family(Family(
    name="charrnn",
    title="char-RNN",
    help="character RNNs: NumPy from scratch or a torch LSTM",
    recipes="latentworks.recipes.charrnn",
    train="latentworks.pipelines.charrnn:train_charrnn",
    study="latentworks.studies.charrnn",
    explorer="latentworks.explore.charrnn",
    api="latentworks.api:CharRun",
    measures=(VAL_LOSS, VAL_ACC),
    verbs={
        "train": Verb("train a character model and report held-out nats/char", "latentworks.cli.charrnn:train"),
        "sample": Verb("generate text from a trained run (either backend)", "latentworks.cli.charrnn:sample"),
        "study": Verb("the char-RNN part of the study alone", "latentworks.cli.charrnn:study"),
    },
    order=3,
))
