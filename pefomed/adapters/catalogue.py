"""The adapter catalogue: one :class:`AdapterMethod` per method, registered by its module.

Code owns the rules and behaviour (settings' types and bounds, the parts a method can reach,
whether it is peft-backed or mergeable, how it builds, saves and merges). Data owns the rest:
``adapters/<name>.yaml`` gives the description, defaults, allowed parts, presets and search space.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pefomed.adapters.params import Param, check_settings, raise_if
from pefomed.errors import PefomedError
from pefomed.models.base import PARTS
from pefomed.registry import Registry

if TYPE_CHECKING:
    from pefomed.adapters.handle import AdaptedModel, Request
    from pefomed.adapters.spaces import MethodData
    from pefomed.models.base import ModelBundle

ADAPTERS: Registry["AdapterMethod"] = Registry("adapter")
_DATA: dict[Path, dict[str, "MethodData"]] = {}


class AdapterMethod:
    """Base of every catalogue entry. Subclasses set the class attributes and implement build/load."""

    name: ClassVar[str] = ""
    #: settings and their rules (defaults live in adapters/<name>.yaml)
    params: ClassVar[dict[str, Param]] = {}
    #: the parts this method can technically reach, and why not the others
    max_parts: ClassVar[tuple[str, ...]] = PARTS
    parts_reason: ClassVar[str] = ""
    peft_backed: ClassVar[bool] = False
    mergeable: ClassVar[bool] = False
    merge_reason: ClassVar[str] = ""
    #: whether ``layers`` (attention / mlp / all-linear) selects what the method touches
    uses_layers: ClassVar[bool] = True
    #: whether the method adapts Linear layers (a family's "*" untargetable parts then apply)
    targets_linear: ClassVar[bool] = True

    # --- data from adapters/<name>.yaml -----------------------------------------------------
    @property
    def data(self) -> "MethodData":
        return catalogue_data()[self.name]

    @property
    def description(self) -> str:
        return self.data.description

    @property
    def defaults(self) -> dict[str, Any]:
        """Every setting's value when none is given (the default preset applied)."""
        return self.resolve_settings(None)

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts this method may target."""
        return self.data.parts

    @property
    def search_space(self) -> dict[str, dict[str, Any]]:
        """Hyperparameter -> {type, low, high, log, step, choices}; ``learning_rate`` is for training."""
        return {k: dict(v) for k, v in self.data.search_space.items()}

    @property
    def train_defaults(self) -> dict[str, Any]:
        return dict(self.data.train_defaults)

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.data.presets.items()}

    # --- settings ---------------------------------------------------------------------------
    def resolve_settings(self, settings: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults <- chosen preset <- ``settings``; every unknown key and bad value at once."""
        user, errors = check_settings(self.params, settings or {}, self.name)
        merged = dict(self.data.defaults)
        preset = user.get("preset", merged.get("preset"))
        if preset in self.data.presets:
            merged.update(self.data.presets[preset])
        merged.update(user)
        if not errors:
            errors = self.check(merged)
        raise_if(errors, f"invalid {self.name} settings")
        return merged

    def check(self, settings: dict[str, Any]) -> list[str]:
        """Rules between settings (e.g. AdaLoRA's target_r <= init_r); one message per problem."""
        return []

    # --- behaviour (implemented by subclasses) ----------------------------------------------
    def dry_run(self, bundle: "ModelBundle", request: "Request") -> None:
        """Resolve what :meth:`build` would touch without changing the model; raises
        UnsupportedError when nothing matches (used for the support matrix)."""

    def build(self, bundle: "ModelBundle", request: "Request") -> "AdaptedModel":
        raise NotImplementedError

    def load(self, bundle: "ModelBundle", request: "Request", folder: Path, record: dict,
             trainable: bool) -> "AdaptedModel":
        raise NotImplementedError

    #: the file (in the saved folder) whose tensors :meth:`tensor_shapes` describes; "" for none
    weights_file: str = ""

    def tensor_shapes(self, adapted: "AdaptedModel") -> dict[str, tuple[int, ...]] | None:
        """Name -> shape of the tensors :meth:`save` writes to ``weights_file`` (None: unchecked)."""
        return None

    def save(self, adapted: "AdaptedModel", folder: Path) -> dict[str, Any]:
        """Write the weights into ``folder``; returns extra fields for pefomed_adapter.json."""
        raise NotImplementedError

    def saved_tensors(self, adapted: "AdaptedModel") -> dict[str, Any]:
        """The tensors :meth:`save` writes, by name (sizes adapters from shapes, without saving)."""
        raise NotImplementedError

    def touched(self, adapted: "AdaptedModel") -> list[str]:
        raise NotImplementedError

    def merge(self, adapted: "AdaptedModel") -> None:
        raise NotImplementedError

    def unmerge(self, adapted: "AdaptedModel") -> None:
        raise NotImplementedError

    def prepare_for_training(self, adapted: "AdaptedModel", total_steps: int) -> None:
        """Hook for methods with a schedule; nothing to do by default."""

    def on_step(self, adapted: "AdaptedModel", step: int) -> None:
        """Hook called after each optimizer step; nothing to do by default."""


def register_adapter(cls: type[AdapterMethod]) -> type[AdapterMethod]:
    """Class decorator: instantiate and register a method under ``cls.name``."""
    ADAPTERS.add(cls.name, cls())
    return cls


def _ensure_methods() -> None:
    import pefomed.adapters.methods  # noqa: F401  (registers the built-in methods)


def catalogue_data() -> dict[str, "MethodData"]:
    """The validated YAML of every method, read once per adapters folder."""
    from pefomed.adapters.spaces import load_all
    from pefomed.settings import adapters_dir

    _ensure_methods()
    folder = adapters_dir().resolve()
    if folder not in _DATA:
        _DATA[folder] = load_all(folder, dict(ADAPTERS.items()))
    return _DATA[folder]


def list_adapters() -> list[str]:
    """Names of every adapter method, sorted."""
    _ensure_methods()
    return ADAPTERS.names()


def get_adapter(name: str) -> AdapterMethod:
    """The catalogue entry of ``name`` (unknown names get did-you-mean)."""
    _ensure_methods()
    if not isinstance(name, str):
        raise PefomedError(f"adapter method must be a name such as 'lora', but got {name!r}")
    return ADAPTERS.get(name)
