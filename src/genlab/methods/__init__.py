"""Training methods, one file each (its config class inside), registered in `registry`."""
