"""Named image datasets held in memory as uint8 tensors with labels, captions and attributes.

`load_dataset("shapes")`, `load_dataset("folder:./photos", image_size=64)`; `dataset_status()`
says which datasets are available on this machine and how to get the others.
"""

from genlab.data.base import DatasetStatus, DataWarning, ImageData
from genlab.data.config import DataConfig
from genlab.data.registry import DATASET_NAMES, dataset_status, load_dataset
from genlab.data.shapes import ShapesOptions

__all__ = [
    "DATASET_NAMES",
    "DataConfig",
    "DataWarning",
    "DatasetStatus",
    "ImageData",
    "ShapesOptions",
    "dataset_status",
    "load_dataset",
]
