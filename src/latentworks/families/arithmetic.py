"""The arithmetic family: encoder-decoders that learn + - × from text queries and from handwriting."""

from latentworks.registry import EXACT_MATCH, PER_CHAR, Family, Verb, declare_family

FAMILY = declare_family(Family(
    name="arithmetic",
    title="arithmetic",
    help="encoder-decoders that learn + - × from text and handwriting",
    recipes="latentworks.recipes.arithmetic",
    train="latentworks.pipelines.arithmetic:train",
    study="latentworks.studies.arithmetic",
    explorer="latentworks.explore.arithmetic",
    api="latentworks.api:ArithmeticRun",
    measures=(EXACT_MATCH, PER_CHAR),
    verbs={
        "train": Verb("train one model and score it on held-out queries", "latentworks.cli.arithmetic:train"),
        "sweep": Verb("train at several train fractions; curves and exact match vs fraction",
                      "latentworks.cli.arithmetic:sweep"),
        "predict": Verb("answer a query with a trained run", "latentworks.cli.arithmetic:predict"),
        "render": Verb("draw a query in MNIST test-split handwriting as a PNG strip",
                       "latentworks.cli.arithmetic:render"),
        "mnist-addition": Verb("MNIST-addition on its own protocol: N-digit sums of fixed MNIST images, "
                               "trained and scored on sums only", "latentworks.cli.arithmetic:mnist_addition"),
        "eval": Verb("score a text→text run on longer operands than it trained on (length generalisation)",
                     "latentworks.cli.arithmetic:evaluate"),
    },
    order=1,
))
