"""Example regularizer plugins for regbench, written only against its public plugin API
(``benchmark.regularizers``) and registered through the ``regbench.regularizers`` entry point."""
