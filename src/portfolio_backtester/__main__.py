"""``python -m portfolio_backtester``."""

import sys

from .cli import main

sys.exit(main())
