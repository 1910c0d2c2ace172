"""The simulated regulator: a world whose misconduct is known, written as OSCR-shaped files beside
its answer key. The pipeline never imports this package."""
