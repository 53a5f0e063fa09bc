"""attach/remove: exact identity at init, gradients only into adapters, strict state dicts, counts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from pefomed.adapters.bottleneck import (Bottleneck, BottleneckConfig, attach_bottlenecks,
                                         attached_bottlenecks, bottleneck_parameter_count,
                                         bottleneck_state_dict, load_bottleneck_state_dict,
                                         remove_bottlenecks, select_bottleneck_sites)
from pefomed.errors import PefomedError, UnsupportedError

from ._util import TINY, all_parts_with_sites, build, inputs, outputs, scalar_loss


def _attach(bundle, preset="houlsby", parts=None, **kw):
    config = BottleneckConfig(preset, **kw)
    sites = select_bottleneck_sites(bundle, parts or all_parts_with_sites(bundle), preset)
    return config, attach_bottlenecks(bundle.model, sites, config)


@pytest.mark.parametrize("name", TINY)
def test_identity_at_init_on_every_tiny_model(name):
    bundle = build(name)
    batch = inputs(bundle)
    before = outputs(bundle.model, batch)
    _, sites = _attach(bundle, dropout=0.1)
    assert len(attached_bottlenecks(bundle.model)) == len(sites) > 0
    after = outputs(bundle.model, batch)
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after))


def test_identity_at_init_in_train_mode_with_dropout():
    bundle = build("tiny-llava")
    batch = inputs(bundle)
    bundle.model.train()
    torch.manual_seed(1)
    before = outputs(bundle.model, batch)
    _attach(bundle, dropout=0.5)
    assert all(a.dropout.training for a in attached_bottlenecks(bundle.model).values())
    torch.manual_seed(1)
    assert all(torch.equal(a, b) for a, b in zip(before, outputs(bundle.model, batch)))


@pytest.mark.parametrize("name", TINY)
def test_gradients_reach_only_the_adapters(name):
    bundle = build(name)
    for p in bundle.model.parameters():
        p.requires_grad_(False)
    _, sites = _attach(bundle)
    scalar_loss(bundle.model(**inputs(bundle))).backward()
    adapter_params = {id(p) for a in attached_bottlenecks(bundle.model).values() for p in a.parameters()}
    with_grad = {n for n, p in bundle.model.named_parameters() if p.grad is not None}
    assert with_grad and all(".bottleneck." in n for n in with_grad)
    assert all(id(p) in adapter_params for p in bundle.model.parameters() if p.grad is not None)
    assert any(a.up.weight.grad.abs().sum() > 0 for a in attached_bottlenecks(bundle.model).values())


def test_every_adapter_gets_a_gradient_on_tiny_llava():
    bundle = build("tiny-llava")
    _attach(bundle)
    scalar_loss(bundle.model(**inputs(bundle))).backward()
    for site, adapter in attached_bottlenecks(bundle.model).items():
        assert adapter.up.weight.grad.abs().sum() > 0, site
        # up is zero at init, so nothing flows back into down on the first step
        assert torch.count_nonzero(adapter.down.weight.grad) == 0, site


def test_attach_leaves_requires_grad_of_the_base_alone():
    bundle = build("tiny-llava")
    for n, p in bundle.model.named_parameters():
        p.requires_grad_("language" in n)
    before = {n: p.requires_grad for n, p in bundle.model.named_parameters()}
    _attach(bundle)
    after = {n: p.requires_grad for n, p in bundle.model.named_parameters()}
    assert {n: after[n] for n in before} == before
    assert all(after[n] for n in after if ".bottleneck." in n)


def test_parameter_count_by_hand():
    bundle = build("tiny-llava")
    config, sites = _attach(bundle, "houlsby", reduction_factor=16)
    # 4 vision sites of width 32 -> bottleneck 32//16 = 2: 2*32*2 + 2 + 32 = 162 each
    # 4 language sites of width 64 -> bottleneck 64//16 = 4: 2*64*4 + 4 + 64 = 580 each
    assert len(sites) == 8
    assert bottleneck_parameter_count(bundle.model) == 4 * 162 + 4 * 580 == 2968
    assert sum(config.site_parameters(bundle.model.get_submodule(s).out_features) for s in sites) == 2968
    for adapter in attached_bottlenecks(bundle.model).values():
        adapter.requires_grad_(False)
    assert bottleneck_parameter_count(bundle.model) == 0
    assert bottleneck_parameter_count(bundle.model, trainable_only=False) == 2968


def test_remove_restores_the_original_modules():
    bundle = build("tiny-llava")
    batch = inputs(bundle)
    base = outputs(bundle.model, batch)  # first: transformers installs hooks of its own on first call
    modules = dict(bundle.model.named_modules())
    hooks = {n: list(m._forward_hooks.values()) for n, m in modules.items()}
    keys = list(bundle.model.state_dict())
    _, sites = _attach(bundle)
    with torch.no_grad():
        for adapter in attached_bottlenecks(bundle.model).values():
            adapter.up.weight.normal_()
    assert not torch.equal(outputs(bundle.model, batch)[-1], base[-1])
    assert sorted(remove_bottlenecks(bundle.model)) == sorted(sites)
    assert dict(bundle.model.named_modules()) == modules  # the very same objects, nothing extra
    assert list(bundle.model.state_dict()) == keys
    assert {n: list(m._forward_hooks.values()) for n, m in bundle.model.named_modules()} == hooks
    assert all(torch.equal(a, b) for a, b in zip(outputs(bundle.model, batch), base))
    assert remove_bottlenecks(bundle.model) == []


def test_state_dict_keys_and_strict_loading():
    bundle = build("tiny-llava")
    _, sites = _attach(bundle, parts=("language",))
    state = bottleneck_state_dict(bundle.model)
    assert sorted(state) == sorted(f"{s}.bottleneck.{p}.{w}" for s in sites
                                   for p in ("down", "up") for w in ("weight", "bias"))
    new = {k: torch.full_like(v, 0.5) for k, v in state.items()}
    load_bottleneck_state_dict(bundle.model, new)
    assert all(torch.equal(v, new[k]) for k, v in bottleneck_state_dict(bundle.model).items())

    missing = dict(new)
    missing.pop(sorted(new)[0])
    with pytest.raises(PefomedError, match=r"1 missing \(.*down.bias\), 0 unexpected"):
        load_bottleneck_state_dict(bundle.model, missing)
    with pytest.raises(PefomedError, match=r"0 missing, 1 unexpected \(lm_head.bottleneck"):
        load_bottleneck_state_dict(bundle.model, {**new, "lm_head.bottleneck.up.weight": torch.zeros(1)})
    wrong = {**new, sorted(new)[0]: torch.zeros(3)}
    with pytest.raises(PefomedError, match="shapes differ") as err:
        load_bottleneck_state_dict(bundle.model, wrong)
    assert "\n" not in str(err.value)


def test_bad_sites_are_refused():
    bundle = build("tiny-llava")
    config = BottleneckConfig()
    site = "model.language_model.layers.0.mlp.down_proj"
    with pytest.raises(PefomedError, match="did you mean 'model.language_model.layers.0.mlp.down_proj'"):
        attach_bottlenecks(bundle.model, ["model.language_model.layers.0.mlp.down_prj"], config)
    with pytest.raises(PefomedError, match="more than once"):
        attach_bottlenecks(bundle.model, [site, site], config)
    with pytest.raises(UnsupportedError, match="not a Linear"):
        attach_bottlenecks(bundle.model, ["model.language_model.layers.0.mlp"], config)
    attach_bottlenecks(bundle.model, [site], config)
    with pytest.raises(PefomedError, match="already has a bottleneck"):
        attach_bottlenecks(bundle.model, [site], config)


def test_init_is_seeded_and_follows_the_linear():
    a, b = build("tiny-llava"), build("tiny-llava")
    _attach(a)
    _attach(b)
    sa, sb = bottleneck_state_dict(a.model), bottleneck_state_dict(b.model)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = build("tiny-llava")
    attach_bottlenecks(c.model, list(sa_sites := attached_bottlenecks(a.model)), BottleneckConfig(), seed=1)
    key = f"{next(iter(sa_sites))}.bottleneck.down.weight"
    assert not torch.equal(bottleneck_state_dict(c.model)[key], sa[key])
    adapter = next(iter(attached_bottlenecks(a.model).values()))
    assert 0 < adapter.down.weight.abs().max() <= 2e-2  # truncated at two std of init_scale 1e-2
    assert not adapter.training  # created in the model's (eval) mode

    lin = nn.Linear(8, 8).to(torch.float64)
    wrapper = nn.Sequential(lin)
    attach_bottlenecks(wrapper, ["0"], BottleneckConfig(reduction_factor=4))
    assert isinstance(lin.bottleneck, Bottleneck) and lin.bottleneck.dtype == torch.float64
    assert wrapper(torch.ones(2, 8, dtype=torch.float64)).dtype == torch.float64


def test_works_under_a_peft_wrapper_with_canonical_names():
    from peft import LoraConfig, get_peft_model

    bundle = build("tiny-llava")
    batch = inputs(bundle)
    sites = select_bottleneck_sites(bundle, ("language",), "houlsby")
    peft_model = get_peft_model(bundle.model, LoraConfig(r=2, target_modules=["o_proj"]))
    before = outputs(peft_model, batch)
    prefixed = ["base_model.model." + s for s in sites]
    assert attach_bottlenecks(peft_model, prefixed, BottleneckConfig()) == sites
    assert all(torch.equal(a, b) for a, b in zip(before, outputs(peft_model, batch)))
    assert sorted(attached_bottlenecks(peft_model)) == sorted(sites)
    assert all(k.split(".bottleneck.")[0] in sites for k in bottleneck_state_dict(peft_model))
    # the adapter sits on the LoRA layer's base Linear, so it survives merge_and_unload
    host = peft_model.get_base_model().get_submodule(sites[0]).base_layer
    assert isinstance(host.bottleneck, Bottleneck)
    merged = peft_model.merge_and_unload()
    assert sorted(attached_bottlenecks(merged)) == sorted(sites)


def test_deep_copies_carry_working_independent_adapters():
    import copy

    bundle = build("tiny-llava")
    batch = inputs(bundle)
    _, sites = _attach(bundle, parts=("language",))
    twin = copy.deepcopy(bundle.model)
    with torch.no_grad():
        for adapter in attached_bottlenecks(twin).values():
            adapter.up.bias.fill_(0.1)
    assert sorted(attached_bottlenecks(twin)) == sorted(sites)
    assert not torch.equal(outputs(twin, batch)[-1], outputs(bundle.model, batch)[-1])
    assert sorted(remove_bottlenecks(twin)) == sorted(sites)
    assert sorted(attached_bottlenecks(bundle.model)) == sorted(sites)  # the original keeps its own
