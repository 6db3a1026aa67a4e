"""modelry: business data in, explained and audited prediction services out."""

from modelry.errors import ModelryError

__version__ = "0.1.0"

__all__ = ["ModelryError", "__version__"]
