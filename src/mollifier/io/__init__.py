"""Readers and writers: the project's dataset format and external file formats."""

from mollifier.io._fields import GriddedFields
from mollifier.io._gridding import FileFormatError
from mollifier.io.arrays import read_mat, read_npz
from mollifier.io.comsol import read_comsol
from mollifier.io.dataset import FORMAT_VERSION, Dataset, DatasetError, load_dataset, save_dataset
from mollifier.io.images import read_tiff, write_tiff
from mollifier.io.read import read_fields
from mollifier.io.tables import read_rows, read_table, write_table

__all__ = [
    "FORMAT_VERSION",
    "Dataset",
    "DatasetError",
    "FileFormatError",
    "GriddedFields",
    "load_dataset",
    "read_comsol",
    "read_fields",
    "read_mat",
    "read_npz",
    "read_rows",
    "read_table",
    "read_tiff",
    "save_dataset",
    "write_table",
    "write_tiff",
]
