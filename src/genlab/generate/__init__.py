"""Inference only: load a run, sample, truncate, interpolate."""

from genlab.generate.interpolate import interpolate, lerp, slerp
from genlab.generate.load import LoadedRun, load_run
from genlab.generate.sample import sample_grid, truncate

__all__ = ["LoadedRun", "interpolate", "lerp", "load_run", "sample_grid", "slerp", "truncate"]
