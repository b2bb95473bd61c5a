"""``python -m spexjax`` runs the same command line as the ``spexjax`` script."""

import sys

from spexjax.cli import main

sys.exit(main())
