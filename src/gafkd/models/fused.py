"""Fused models (``members`` > 1) from and to their members' plain state dicts.

Member m of a fused model owns block m of the first dimension of every parameter and buffer (see
:mod:`gafkd.models.layers`), so stacking is concatenation and unstacking is slicing. Scalars
(batch norm's ``num_batches_tracked``) are shared: every member has taken the same number of steps.
"""

from __future__ import annotations

import torch

from .registry import build_model


def stack_states(states: list[dict]) -> dict:
    """One fused state dict from ``len(states)`` plain ones (same architecture)."""
    return {key: (states[0][key].clone() if states[0][key].dim() == 0 else torch.cat([s[key] for s in states]))
            for key in states[0]}


def member_state(fused: dict, member: int, members: int) -> dict:
    """Member ``member``'s plain state dict out of a fused one (copies, on the CPU)."""
    state = {}
    for key, value in fused.items():
        value = value.detach()
        if value.dim() > 0:
            value = value.view(members, -1, *value.shape[1:])[member]
        state[key] = value.cpu().clone()
    return state


def host_state(fused: dict) -> dict:
    """A fused state dict on the CPU in one transfer per dtype: the bookkeeping of improving members slices this
    copy (:func:`member_state`) instead of copying tensor by tensor, member by member, from the device — each
    of those a blocking round trip. On the CPU the tensors themselves (``member_state`` copies its slices)."""
    tensors = {key: value.detach() for key, value in fused.items()}
    if all(value.device.type == "cpu" for value in tensors.values()):
        return tensors
    return gathered_on_host(tensors)


def gathered_on_host(tensors: dict) -> dict:
    """``tensors`` on the CPU: each dtype's tensors concatenated on their device, copied once, split again."""
    by_dtype, host = {}, {}
    for key, value in tensors.items():
        by_dtype.setdefault(value.dtype, []).append(key)
    for keys in by_dtype.values():
        flat = torch.cat([tensors[key].reshape(-1) for key in keys]).cpu()
        offset = 0
        for key in keys:
            size = tensors[key].numel()
            host[key] = flat[offset:offset + size].view(tensors[key].shape)
            offset += size
    return {key: host[key] for key in tensors}


def load_member(fused: torch.nn.Module, member: int, members: int, state: dict) -> None:
    """Overwrite member ``member``'s block of a fused model (or a plain one, ``members`` 1) with a plain state dict."""
    with torch.no_grad():
        for key, target in fused.state_dict().items():
            if target.dim() == 0:
                continue  # shared scalars (num_batches_tracked)
            target.view(members, -1, *target.shape[1:])[member].copy_(state[key])


def build_fused(arch: str, modality: str, num_classes: int, seeds: list[int], *, axes: int) -> torch.nn.Module:
    """A fused model whose member m starts exactly as ``build_model`` does under ``torch.manual_seed(seeds[m])``."""
    states = []
    for seed in seeds:
        torch.manual_seed(seed)
        states.append(build_model(arch, modality, num_classes, axes=axes))
    if len(seeds) == 1:
        return states[0]
    states = [model.state_dict() for model in states]
    fused = build_model(arch, modality, num_classes, axes=axes, members=len(seeds))
    fused.load_state_dict(stack_states(states))
    return fused
