"""The detector's modes (kept apart from the detection code, so the command line can show the default without
loading it). Measured against each other in bench/RESULTS.md, "Ablation"."""

MODES = ("ensemble", "baseline", "forest")
# The rules, with the Isolation Forest confirming their short marginal alerts (``core.confirmed``).
DEFAULT_MODE = "ensemble"
MODE_HELP = "ensemble (the rules, the forest confirming short marginal alerts; default) | baseline (rules) | forest"
