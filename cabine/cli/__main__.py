"""``python -m cabine.cli``: the same as the ``cabine`` command."""

from cabine.cli import main

main()
