"""``python -m annokit``: the command line (same as the ``annokit`` command)."""

from annokit.cli import main

main()
