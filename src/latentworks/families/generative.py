"""The generative family: CAE, VAE, DCGAN, CVAE, cGAN on MNIST, Fashion-MNIST or an image folder."""

from latentworks.registry import FLD_RATIO, PRECISION, RECALL, Family, Verb, declare_family

_TOOLS, _IMAGES = "latentworks.cli.gen_tools", "latentworks.cli.gen_images"

FAMILY = declare_family(Family(
    name="generative",
    title="generative models",
    help="generative models: CAE, VAE, DCGAN, CVAE, cGAN and their latent spaces",
    recipes="latentworks.recipes.generative",
    train="latentworks.pipelines.generative:train_generative",
    study="latentworks.studies.generative",
    explorer="latentworks.explore.generative",
    api="latentworks.api:GenerativeRun",
    measures=(FLD_RATIO, PRECISION, RECALL),  # each kind declares its own in its model file
    verbs={
        "train": Verb("train one generative model into a run folder", "latentworks.cli.gen:train"),
        "sample": Verb("an n×n grid of samples, cells numbered for picking", f"{_TOOLS}:sample"),
        "interpolate": Verb("two random points and the line between them", f"{_TOOLS}:interpolate"),
        "traverse": Verb("a path through several random points: PNG strip or GIF", f"{_TOOLS}:traverse"),
        "arith": Verb("decode mean(A) − mean(B) + mean(C) by cell indices of a sample grid", f"{_TOOLS}:arith"),
        "sweep-dim": Verb("vary one latent coordinate", f"{_TOOLS}:sweep_dim"),
        "manifold": Verb("the decoded grid over normal quantiles of a 2-D latent", f"{_TOOLS}:manifold"),
        "codes": Verb("an InfoGAN-coded GAN: one row per code, the same noise per column", f"{_TOOLS}:codes"),
        "directions": Verb("the top principal directions (PCA / GANSpace) and their variance", f"{_TOOLS}:directions"),
        "reconstruct": Verb("your images through a CAE / VAE / CVAE", f"{_IMAGES}:reconstruct"),
        "encode": Verb("latent vectors of your images (CAE / VAE / CVAE)", f"{_IMAGES}:encode"),
        "decode": Verb("decode latent vectors from a JSON file (what `encode -o` writes)", f"{_IMAGES}:decode"),
        "eval": Verb("FLD and its floor, precision/recall: MNIST with the digit reader (classes, NLL), faces with "
                     "the face feature network",
                     "latentworks.cli.gen_eval:evaluate"),
    },
    command="gen",
    order=2,
))
