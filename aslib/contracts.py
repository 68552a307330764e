"""Declared contracts: a public function states what it accepts in its signature, and :func:`contract` checks the
call against it.

Tensor arguments are annotated with jaxtyping (dtype kind and named axes, e.g. ``Float[Tensor, "m n"]``: a floating
tensor of rank 2, and every argument that names axis ``m`` must agree on its length); counts, fractions and
positive reals with the named types below, each a :class:`typing.Annotated` type whose predicate beartype
checks and whose last item is the sentence used in messages. jaxtyping with beartype is the checker: both are
well kept, beartype checks in constant time per argument, and jaxtyping binds axis names across arguments, so
shape relations such as "as many labels as images" are declared, not written out.

A call that breaks the contract raises :class:`ContractError` (a ``ValueError`` and a ``TypeError``) whose message
names the function, the argument, what was expected, what came, and how to fix it. Hand-written checks remain
only for relations a signature cannot state (e.g. ``k <= min(m, n)``).
"""
from __future__ import annotations

import collections.abc
import difflib
import functools
import inspect
import math
import numbers
import re
import types
import typing
from typing import Annotated, Any, Callable, Literal, TypeVar

import torch
from beartype import beartype
from beartype.vale import Is
from jaxtyping import AbstractArray, TypeCheckError, jaxtyped

F = TypeVar("F", bound=Callable[..., Any])


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


_WORDS: dict[Any, tuple[str, str]] = {}
_PREDICATES: dict[Any, Callable[[Any], bool]] = {}


def named_type(base: type, predicate: Callable[[Any], bool], words: str, fix: str) -> Any:
    """A named type for declared contracts: ``Annotated[base, Is[predicate]]``, described in messages by ``words``
    (what was expected, e.g. "a whole number >= 1") and ``fix`` (how to fix it). The module-level types below are
    made with it; a module defines its own where a parameter needs its own words (e.g. a papermill parameter)."""
    hint = Annotated[base, Is[predicate]]
    _WORDS[hint] = (words, fix)
    _PREDICATES[hint] = predicate
    return hint


@functools.cache
def _every_item(item: Any) -> Any:
    """A sequence of the named type ``item`` whose every item is checked (beartype checks one item of a
    ``Sequence[X]``, chosen at random, per call)."""
    words, fix = _WORDS[item]
    check = _PREDICATES[item]
    return named_type(collections.abc.Sequence, lambda s: not isinstance(s, str) and all(check(v) for v in s),
                  f"a list whose items are each {words}", f"every item: {fix}")


def _checked_hint(hint: Any) -> Any:
    """``hint`` with every ``Sequence[X]`` / ``list[X]`` / ``tuple[X, ...]`` of a named type ``X`` (also inside a
    union) replaced by :func:`_every_item`, so that a bad item anywhere in the sequence is found."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if (origin in (collections.abc.Sequence, list) and len(args) == 1 or origin is tuple and len(args) == 2
            and args[1] is Ellipsis) and args[0] in _PREDICATES:
        return _every_item(args[0])
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_checked_hint(a) for a in args)]
    return hint


Count = named_type(numbers.Integral, lambda n: _integer(n) and n >= 1, "a whole number >= 1",
               "pass an int such as 1, 2, 3 (not a float or a bool; round a float with int(...))")
"""A number of things: an ``int`` >= 1."""
CountOrZero = named_type(numbers.Integral, lambda n: _integer(n) and n >= 0, "a whole number >= 0",
                     "pass an int such as 0, 1, 2 (not a float or a bool; round a float with int(...))")
"""A number of things that may be none: an ``int`` >= 0."""
Fraction = named_type(numbers.Real, lambda p: _real(p) and 0 < p < 1, "a number strictly between 0 and 1",
                  "e.g. 0.9 for 90 % (not a percentage, not 0 or 1)")
"""A share or a confidence level: a finite real in (0, 1)."""
Proportion = named_type(numbers.Real, lambda p: _real(p) and 0 <= p <= 1, "a proportion in [0, 1]",
                    "e.g. 0.85 for 85 % (an accuracy or a rate, not a percentage or a count)")
"""An accuracy, a rate or a share that may be 0 or 1: a real in [0, 1]."""
PositiveReal = named_type(numbers.Real, lambda x: _real(x) and x > 0, "a finite number > 0",
                      "pass a positive number (not 0, NaN or inf)")
"""A scale, a norm budget or a learning rate: a finite real > 0."""
FiniteReal = named_type(numbers.Real, _real, "a finite number", "pass a number that is not NaN or inf")
"""A measured value of any sign: a finite real."""
NonNegativeReal = named_type(numbers.Real, lambda x: _real(x) and x >= 0, "a finite number >= 0",
                         "pass 0 or a positive number (not NaN or inf)")
"""A penalty or a total that may be zero: a finite real >= 0."""
Shape = named_type(collections.abc.Sequence, lambda s: not isinstance(s, str) and len(s) > 0
               and all(_integer(d) and d >= 1 for d in s), "one sample's shape without the batch: whole numbers >= 1",
               "e.g. (3, 32, 32) or (50,); pass tuple(x.shape[1:]) for a batch x")
"""One sample's shape, without the batch axis: a non-empty sequence of ints >= 1."""
ClassIndices = named_type(collections.abc.Sequence, lambda s: not isinstance(s, str) and len(s) > 0
                      and all(_integer(c) and c >= 0 for c in s),
                      "a non-empty list of class indices (whole numbers >= 0)",
                      "e.g. [1] for one class or [0, 3] for two; None where all classes are meant")
"""Some classes of a dataset: a non-empty sequence of class indices (ints >= 0)."""


PositiveReals = named_type(collections.abc.Sequence, lambda s: not isinstance(s, str) and len(s) > 0
                       and all(_real(x) and x > 0 for x in s), "a non-empty list of finite numbers > 0",
                       "e.g. [5.0, 10.0] (every item positive; not 0, NaN or inf)")
"""A grid of scales or norm budgets: a non-empty sequence of finite reals > 0 (every item checked)."""
Counts = named_type(collections.abc.Sequence, lambda s: not isinstance(s, str) and len(s) > 0
                and all(_integer(n) and n >= 1 for n in s), "a non-empty list of whole numbers >= 1",
                "e.g. [10, 50, 200] (ints; not floats or bools)")
"""A grid of counts: a non-empty sequence of ints >= 1 (every item checked)."""


class ContractError(ValueError, TypeError):
    """A call that does not meet the function's declared contract (a ValueError and a TypeError, so callers that
    catch either see it)."""


_KINDS = {"Float": "floating-point", "Int": "integer", "Integer": "integer", "Real": "real (integer or floating)",
          "Shaped": "", "Bool": "boolean", "Inexact": "floating or complex", "Num": "numeric", "UInt8": "uint8"}
_FIXES = {"Float": "convert with x.float() (normalised images: use aslib.data's loaders)",
          "Int": "convert class indices with y.long()", "Integer": "convert class indices with y.long()",
          "UInt8": "pass the stored uint8 pixels (dataset.images), not normalised float images"}


def _axes(annotation: type[AbstractArray]) -> str:
    names = [n.lstrip("#") for n in annotation.dim_str.split()]  # "*name": any number of axes
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


_WORDS[tuple[torch.Tensor, torch.Tensor]] = (
    "an (x, y) pair of tensors", "pass a tuple (images, labels), e.g. aslib.data.tensors(...) or (x, y)")


_PLAIN = {torch.Tensor: "a tensor", str: "a string", bool: "True or False", int: "an int", float: "a float"}


def describe_type(annotation: Any) -> str:
    """The words for a declared type: a named type's sentence, a jaxtyping tensor's kind and axes, a union, a
    sequence or a mapping of them."""
    if annotation in _WORDS:
        return _WORDS[annotation][0]
    if annotation in _PLAIN:
        return _PLAIN[annotation]
    if typing.get_origin(annotation) is Annotated:
        return describe_type(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, AbstractArray):
        kind = _KINDS.get(annotation.dtype.__name__, annotation.dtype.__name__.lower())
        words = f"{kind} tensor" if kind else "tensor"
        return f"{'an' if words[0] in 'aeio' else 'a'} {words} of shape {_axes(annotation)}"
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if args and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        parts = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or None" if type(None) in args else "")
    if typing.get_origin(annotation) in (collections.abc.Sequence, list) and len(args) == 1:
        return f"a list whose items are each {describe_type(args[0])}"
    if typing.get_origin(annotation) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"a tuple whose items are each {describe_type(args[0])}"
    if typing.get_origin(annotation) is tuple and args and len(set(args)) == 1:  # e.g. tuple[X, X, X]
        return f"a tuple of {len(args)} items, each {describe_type(args[0])}"
    if typing.get_origin(annotation) is tuple and args:
        return f"a tuple ({', '.join(describe_type(a) for a in args)})"
    if typing.get_origin(annotation) in (collections.abc.Mapping, dict) and len(args) == 2:
        key = describe_type(args[0])
        keys = f"a dict with {key.split(' ', 1)[1] if key.startswith(('a ', 'an ')) else key} keys"
        return keys if args[1] is Any else f"{keys} and values each {describe_type(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def describe_value(value: Any) -> str:
    """The words for what came: a tensor's dtype and shape, else the value's type and repr (shortened)."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        article = "an" if dtype[0] in "aeio" or dtype.startswith("int") else "a"
        return f"{article} {dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _kind_matches(kind: str, value: torch.Tensor) -> bool:
    """Whether ``value``'s dtype is of the jaxtyping dtype kind ``kind`` (then only its shape can be wrong)."""
    floating, complex_, boolean = value.is_floating_point(), value.is_complex(), value.dtype == torch.bool
    return {"Float": floating, "Int": not (floating or complex_ or boolean),
            "Integer": not (floating or complex_ or boolean), "Real": not (complex_ or boolean),
            "Bool": boolean, "Inexact": floating or complex_, "Num": not boolean,
            "UInt8": value.dtype == torch.uint8}.get(kind, True)


def _tensor_options(annotation: Any) -> list[type[AbstractArray]]:
    options = typing.get_args(annotation) or (annotation,)
    return [o for o in options if isinstance(o, type) and issubclass(o, AbstractArray)]


def _fix(annotation: Any, value: Any, bound: str) -> str:
    """How to fix a value that broke ``annotation``: the dtype, the rank or the axes of a tensor, else the type."""
    for option in _tensor_options(annotation) if isinstance(value, torch.Tensor) else []:
        kind = option.dtype.__name__
        if kind == "Float" and value.dtype == torch.uint8:
            return "convert uint8 pixels with x.float() / 255 (aslib.data.from_pixels then gives normalised units)"
        if not _kind_matches(kind, value):
            return _FIXES.get(kind, f"pass {describe_type(option)}")
        if "..." not in option.dim_str and value.ndim != len(option.dim_str.split()):
            return (f"it has {value.ndim} {'axis' if value.ndim == 1 else 'axes'}, {_axes(option)} has "
                    f"{len(option.dim_str.split())}: reshape it (e.g. "
                    "y[:, None] for one column, x[None] for one sample, x.flatten(1) for rows)")
        names = option.dim_str.split()
        if "..." not in option.dim_str and not any(n.startswith("*") for n in names):
            for axis, (name, size) in enumerate(zip(names, value.shape)):
                if name.isdigit() and size != int(name):
                    return f"its axis {axis} must have size {name}, not {size}"
        return f"its axes {_axes(option)} must agree with the other arguments{bound}"
    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    for option in (annotation, *options):
        if option in _WORDS:
            return _WORDS[option][1]
        if typing.get_origin(option) is Literal:
            near = difflib.get_close_matches(str(value), [str(a) for a in typing.get_args(option)], n=1)
            return f"did you mean {near[0]!r}?" if near else f"pass {describe_type(option)}"
    return f"pass {describe_type(annotation)}"


def _annotated_copy(function: Callable, hints: dict[str, Any]) -> Callable:
    """A copy of ``function`` whose annotations are ``hints`` (what beartype checks); the original keeps the
    annotations it declared."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__, function.__defaults__,
                              function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__, copy.__module__, copy.__annotations__ = function.__qualname__, function.__module__, hints
    return copy


def contract(function: F) -> F:
    """Check every call of ``function`` against its annotations (jaxtyping + beartype) and answer a violation with
    a :class:`ContractError` that says which argument, what was expected, what came and how to fix it. On a class
    (e.g. a dataclass, whose fields are its ``__init__``'s annotations) the constructor is checked."""
    if isinstance(function, type):
        function.__init__ = contract(function.__init__)  # type: ignore[misc]
        return function
    checked, hints = None, None

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal checked, hints
        if checked is None:  # at the first call, when every name the annotations use exists (a method's own class)
            hints = {name: _checked_hint(hint)
                     for name, hint in typing.get_type_hints(function, include_extras=True).items()}
            checked = jaxtyped(typechecker=beartype)(_annotated_copy(function, hints))
        try:
            return checked(*args, **kwargs)
        except TypeCheckError as error:
            text = str(error)
            found = re.search(r"typechecking parameter '(\w+)'", text)
            if found is None:  # a return-value violation is the kit's own bug: let it surface as it is
                raise
            name = found.group(1)
            value = inspect.signature(function).bind_partial(*args, **kwargs).arguments.get(name)
            axes = re.findall(r"^(\w+)=(\d+)$", text, flags=re.M)
            bound = f" ({', '.join(f'{a}={n}' for a, n in axes)} from the arguments before it)" if axes else ""
            raise ContractError(f"{function.__qualname__}: {name} must be {describe_type(hints[name])}, got "
                                f"{describe_value(value)}; {_fix(hints[name], value, bound)}") from None
    call.__aslib_contract__ = function  # type: ignore[attr-defined]  # how tests find every contracted function
    return call  # type: ignore[return-value]


__all__ = ["ClassIndices", "ContractError", "Count", "CountOrZero", "Counts", "FiniteReal", "Fraction",
           "NonNegativeReal", "PositiveReal", "PositiveReals", "Proportion", "Shape", "contract", "describe_type",
           "describe_value", "named_type"]
