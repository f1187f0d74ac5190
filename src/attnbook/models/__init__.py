"""The small models the chapters train, one submodule per family (import from the submodule)."""
