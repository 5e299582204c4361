"""``python -m egress_optimizer`` is the same as ``egress``."""

from egress_optimizer.cli import main

main()
