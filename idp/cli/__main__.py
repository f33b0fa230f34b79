"""``python -m idp.cli``: the same as the ``idp`` command."""

from idp.cli import main

main()
