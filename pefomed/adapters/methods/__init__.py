"""The built-in adapter methods; importing this package registers all of them."""
from pefomed.adapters.methods import (adalora, adapter, dora, frozen, full, ia3, ln, loha, lokr,  # noqa: F401
                                      lora, prefix, prompt, qlora, vera)
