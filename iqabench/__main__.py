"""``python -m iqabench`` = the ``iqabench`` command."""

from .cli import main

main()
