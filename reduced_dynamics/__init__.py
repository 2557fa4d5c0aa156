"""reduced_dynamics: reduced (w, m) landscapes and gradient-flow predictions of grokking.

Importing the package needs neither torch nor matplotlib; the probe and the full training
runs import torch when called.
"""

from reduced_dynamics.errors import FileCheckError, InputError, ReducedDynamicsError, WriteError
from reduced_dynamics.io.files import open_landscape, save_landscape
from reduced_dynamics.io.resources import default_landscape

__all__ = [
    "FileCheckError",
    "InputError",
    "ReducedDynamicsError",
    "WriteError",
    "default_landscape",
    "open_landscape",
    "save_landscape",
]
