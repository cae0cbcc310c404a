"""What a pickle would import and which storages it would load, read from its opcodes without running it.

``pickletools.genops`` only decodes opcodes: nothing is imported, called or built. A small
stack model keeps the literals (strings, numbers, tuples, the memo) that name globals and
persistent ids; every other value is opaque. A stream genops cannot decode, or one whose
stack or memo does not add up, raises ``PickleDamaged``.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from typing import IO, Any

import torch

_GET = ("GET", "BINGET", "LONG_BINGET")
_PUT = ("PUT", "BINPUT", "LONG_BINPUT")
_TUPLE_SIZES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
# Python 2 module names that protocol-2 pickles (torch.save's default) carry.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
# What torch's weights-only unpickler accepts, besides the rules in is_weights_global.
_WEIGHTS_GLOBALS = frozenset({
    "collections.OrderedDict", "collections.Counter", "torch.Size", "torch.Tensor", "torch.device",
    "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch._tensor._rebuild_from_type_v2",
    "_codecs.encode", "builtins.set", "builtins.bytearray", "builtins.complex",
})
_DTYPE_NAMES = frozenset(name for name, value in vars(torch).items() if isinstance(value, torch.dtype))


class PickleDamaged(ValueError):
    """The stream is not a readable pickle; the message says where it breaks."""


class _Opaque:
    def __repr__(self) -> str:
        return "<object>"


_MARK, _OPAQUE = object(), _Opaque()


@dataclass
class PickleFacts:
    globals: list[str] = field(default_factory=list)  # "module.name", in the order they appear
    persistent_ids: list[Any] = field(default_factory=list)  # literal where known, else <object>
    result: Any = None  # the value the pickle returns, if it is a literal


def is_weights_global(name: str) -> bool:
    """Whether a global is one a plain torch state dict uses (containers, dtypes, storages, tensor rebuilds)."""
    module, _, attr = name.rpartition(".")
    return (name in _WEIGHTS_GLOBALS or (module == "torch._utils" and attr.startswith("_rebuild_"))
            or (module in ("torch", "torch.storage", "torch.cuda") and (attr.endswith("Storage") or attr in _DTYPE_NAMES)))


def scan_pickle(stream: IO[bytes]) -> PickleFacts:
    """The facts of the next pickle in ``stream`` (left just after its STOP), or PickleDamaged."""
    facts, stack, memo = PickleFacts(), [], {}
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            _step(opcode, arg, stack, memo, facts)
    except PickleDamaged:
        raise
    except ValueError as exc:  # genops: unknown opcode, truncated argument, end of data before STOP
        raise PickleDamaged(str(exc)) from exc
    except (MemoryError, OverflowError) as exc:  # an argument length of petabytes: genops tries to read it
        raise PickleDamaged(f"an opcode argument claims an impossible length ({type(exc).__name__})") from exc
    return facts


def _step(opcode: pickletools.OpcodeInfo, arg: Any, stack: list, memo: dict, facts: PickleFacts) -> None:
    name = opcode.name
    if name == "MARK":
        stack.append(_MARK)
    elif name == "STOP":
        facts.result = _pop(stack)
    elif name in ("GLOBAL", "INST"):
        module, _, attr = arg.partition(" ")
        facts.globals.append(f"{_PY2_MODULES.get(module, module)}.{attr}")
        _generic(opcode, arg, stack)
    elif name == "STACK_GLOBAL":
        attr, module = _pop(stack), _pop(stack)
        facts.globals.append(f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str) else "<computed name>")
        stack.append(_OPAQUE)
    elif name.startswith("EXT"):
        facts.globals.append(f"<copyreg extension {arg}>")
        stack.append(_OPAQUE)
    elif name in _PUT or name == "MEMOIZE":
        memo[len(memo) if name == "MEMOIZE" else arg] = _top(stack)
    elif name in _GET:
        if arg not in memo:
            raise PickleDamaged(f"memo entry {arg} is read before it is written")
        stack.append(memo[arg])
    elif name == "BINPERSID":
        facts.persistent_ids.append(_pop(stack))
        stack.append(_OPAQUE)
    elif name == "PERSID":
        facts.persistent_ids.append(arg)
        stack.append(_OPAQUE)
    else:
        _generic(opcode, arg, stack)


def _generic(opcode: pickletools.OpcodeInfo, arg: Any, stack: list) -> None:
    """Pop what the opcode consumes and push its result: the tuple or literal where it is one, else opaque."""
    before = opcode.stack_before
    if pickletools.markobject in before:
        items = _pop_to_mark(stack)
        for _ in range(before.index(pickletools.markobject)):  # e.g. the list below APPENDS' mark
            _pop(stack)
    else:
        items = [_pop(stack) for _ in before][::-1]
    if opcode.name == "TUPLE" or opcode.name in _TUPLE_SIZES:
        stack.append(tuple(items))
    elif not before and len(opcode.stack_after) == 1:  # a literal: its value is genops' argument
        stack.append(arg if arg is not None and opcode.name not in ("GLOBAL", "INST") else _OPAQUE)
    else:
        stack.extend(_OPAQUE for _ in opcode.stack_after)


def _pop(stack: list) -> Any:
    if not stack:
        raise PickleDamaged("an opcode takes a value from an empty stack")
    return stack.pop()


def _top(stack: list) -> Any:
    if not stack:
        raise PickleDamaged("the memo stores a value from an empty stack")
    return stack[-1]


def _pop_to_mark(stack: list) -> list:
    if _MARK not in stack:
        raise PickleDamaged("an opcode takes the values up to a mark that was never set")
    at = len(stack) - 1 - stack[::-1].index(_MARK)
    items = stack[at + 1:]
    del stack[at:]
    return items
