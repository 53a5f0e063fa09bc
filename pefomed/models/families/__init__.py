"""Built-in VLM families; importing this package registers them and their tiny variants."""
from pefomed.models.families import llava  # noqa: F401
