"""The bottleneck module, and attaching it to / removing it from named Linear sublayers.

An adapter is registered as a child ``bottleneck`` of the Linear it follows, and a forward hook
on that Linear returns ``out + bottleneck(out)``. Hooking rather than replacing the Linear keeps
every original parameter name (``...o_proj.weight``), so HF checkpoints, peft targeting and
peft's ``merge_and_unload`` are unaffected; removal restores the very same module objects.

Names. Every name here is relative to the underlying transformers model: a peft wrapper is looked
through with ``get_base_model()``, and names given with peft's ``base_model.model.`` (or prompt
learning's ``base_model.``) prefix are accepted and stripped. When peft has wrapped a site (a LoRA
layer with ``base_layer``), the adapter goes on the innermost base Linear, so it survives peft's
merging and unloading. State-dict keys are ``<site>.bottleneck.<param>`` with the plain site
name, so weights saved from a peft-wrapped model load into a plain one and back.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

import torch
from torch import nn

from pefomed.adapters.bottleneck.config import BottleneckConfig
from pefomed.errors import PefomedError, UnsupportedError

CHILD = "bottleneck"
_PEFT_PREFIXES = ("base_model.model.", "base_model.")


class Bottleneck(nn.Module):
    """``dropout(up(act(down(h))))``: d -> max(1, d // rf) -> d, with ``up`` zero-initialised."""

    def __init__(self, hidden: int, config: BottleneckConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        size = config.bottleneck_size(hidden)
        self.down = nn.Linear(hidden, size)
        self.act = _activation(config.non_linearity)
        self.up = nn.Linear(size, hidden)
        self.dropout = nn.Dropout(config.dropout)
        with torch.no_grad():
            s = config.init_scale
            nn.init.trunc_normal_(self.down.weight, std=s, a=-2 * s, b=2 * s, generator=generator)
            nn.init.zeros_(self.down.bias)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    @property
    def dtype(self) -> torch.dtype:
        return self.down.weight.dtype

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.up(self.act(self.down(h))))


def _activation(name: str) -> nn.Module:
    return {
        "relu": nn.ReLU, "swish": nn.SiLU, "silu": nn.SiLU, "gelu": nn.GELU,
        "gelu_new": lambda: nn.GELU(approximate="tanh"), "tanh": nn.Tanh, "leakyrelu": nn.LeakyReLU,
    }[name]()


def _bottleneck_hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    adapter = getattr(module, CHILD)
    # a 4-bit base computes in its own dtype; the adapter keeps its own (fp32 there)
    return output + adapter(output.to(adapter.dtype)).to(output.dtype)


def base_of(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or ``model`` itself)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def canonical_name(model: nn.Module, name: str) -> str:
    """``name`` relative to :func:`base_of`, stripping a peft prefix if the plain name is absent."""
    base = base_of(model)
    if _exists(base, name):
        return name
    for prefix in _PEFT_PREFIXES:
        if name.startswith(prefix) and _exists(base, name[len(prefix):]):
            return name[len(prefix):]
    linear = [n for n, m in base.named_modules() if isinstance(m, nn.Linear)]
    close = difflib.get_close_matches(name, linear, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise PefomedError(
        f"no module {name!r} in the model{hint} Take site names from select_bottleneck_sites()"
    )


def _exists(model: nn.Module, name: str) -> bool:
    try:
        model.get_submodule(name)
    except AttributeError:
        return False
    return True


def host_module(base: nn.Module, site: str) -> nn.Module:
    """The module that carries the adapter at ``site``; see :func:`innermost`."""
    return innermost(base.get_submodule(site))


def innermost(module: nn.Module) -> nn.Module:
    """``module``, or the innermost ``base_layer`` when peft has wrapped it."""
    while isinstance(getattr(module, "base_layer", None), nn.Module):
        module = module.base_layer
    return module


def attach_bottlenecks(model: nn.Module, module_names: Iterable[str], config: BottleneckConfig,
                       *, seed: int = 0) -> list[str]:
    """Add a zero-initialised bottleneck after each named Linear; returns the plain site names.

    The model's outputs are unchanged until the adapters are trained. Only the new parameters
    require grad; ``requires_grad`` of existing parameters is left as it is. Adapters are created
    in the Linear's dtype and device (fp32 for a quantized Linear), in ``model``'s train/eval mode;
    their init is drawn from a generator seeded with ``seed`` in site order.
    """
    base = base_of(model)
    sites = [canonical_name(model, n) for n in module_names]
    dupes = sorted({s for s in sites if sites.count(s) > 1})
    if dupes:
        raise PefomedError(f"site(s) {', '.join(dupes)} listed more than once; give each site once")
    hosts = []
    for site in sites:
        host = host_module(base, site)
        hidden = getattr(host, "out_features", None)
        if not isinstance(hidden, int):
            raise UnsupportedError(
                f"module {site!r} is a {type(host).__name__}, not a Linear; bottleneck sites must be Linear layers"
            )
        if isinstance(getattr(host, CHILD, None), Bottleneck):
            raise PefomedError(f"module {site!r} already has a bottleneck adapter; call remove_bottlenecks() first")
        hosts.append((host, hidden))
    generator = torch.Generator().manual_seed(seed)
    for (host, hidden) in hosts:
        weight = host.weight
        dtype = weight.dtype if weight.dtype.is_floating_point else torch.float32
        adapter = Bottleneck(hidden, config, generator).to(device=weight.device, dtype=dtype)
        adapter.train(host.training)
        host.add_module(CHILD, adapter)
        host.register_forward_hook(_bottleneck_hook)
    return sites


def attached_bottlenecks(model: nn.Module) -> dict[str, Bottleneck]:
    """Plain site name -> attached adapter, in model order."""
    found: dict[str, Bottleneck] = {}
    for name, module in base_of(model).named_modules():
        adapter = getattr(module, CHILD, None)
        if isinstance(adapter, Bottleneck) and _bottleneck_hook in module._forward_hooks.values():
            while name.endswith(".base_layer"):
                name = name[: -len(".base_layer")]
            found[name] = adapter
    return found


def remove_bottlenecks(model: nn.Module) -> list[str]:
    """Detach every bottleneck (hook and child module); returns the sites that had one."""
    base = base_of(model)
    sites = list(attached_bottlenecks(model))
    for site in sites:
        host = host_module(base, site)
        # the hook is found by identity rather than by a stored handle so this also works on deep copies
        for key in [k for k, fn in host._forward_hooks.items() if fn is _bottleneck_hook]:
            del host._forward_hooks[key]
        delattr(host, CHILD)
    return sites


def bottleneck_parameter_count(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters in attached bottlenecks (those requiring grad, by default)."""
    return sum(p.numel() for a in attached_bottlenecks(model).values() for p in a.parameters()
               if p.requires_grad or not trainable_only)


def bottleneck_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``<site>.bottleneck.<param>`` -> tensor (detached, not copied) for every attached adapter."""
    return {f"{site}.{CHILD}.{key}": value.detach()
            for site, adapter in attached_bottlenecks(model).items()
            for key, value in adapter.state_dict().items()}


def load_bottleneck_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Copy weights into the attached adapters; keys and shapes must match exactly."""
    own = bottleneck_state_dict(model)
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise PefomedError(
            f"bottleneck weights do not match the model's adapters: {_few('missing', missing)}, "
            f"{_few('unexpected', unexpected)}; attach the same sites the weights were saved with"
        )
    bad = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
           if tuple(state_dict[k].shape) != tuple(v.shape)]
    if bad:
        raise PefomedError(
            f"bottleneck weight shapes differ (saved vs model) for {len(bad)} tensors, e.g. {bad[0]}; "
            "load with the reduction_factor the weights were saved with"
        )
    with torch.no_grad():
        for key, value in own.items():
            value.copy_(state_dict[key])


def _few(what: str, keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")
    return f"{len(keys)} {what}" + (f" ({shown})" if keys else "")
