"""``python -m cnnviz train NAME``: see ``cnnviz.cli``."""

import sys

from cnnviz.cli import main

sys.exit(main())
