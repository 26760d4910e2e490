import os

# Tests never reach for the network, and runs stay quiet.
os.environ.setdefault("LATENTWORKS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
