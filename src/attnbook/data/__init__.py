"""Every data set of the book, generated or bundled, seeded, no downloads (one submodule each)."""
