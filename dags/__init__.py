"""Entry layer: the scheduler's files. A package only so that the import contract can check them."""
