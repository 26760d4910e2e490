import sys

from latentworks.cli import main

sys.exit(main())
