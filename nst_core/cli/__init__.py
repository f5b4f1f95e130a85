"""The command line (``nst``, ``python -m nst_core``): the only part of the library that writes
to the terminal. ``main`` lists the sub-commands; one module per command."""
