"""How a check runs a learner's function: grading mode, the refusal of the kit's own answer (a profile hook
records the kit's functions the learner's function calls), and the plain-words verdicts."""
from __future__ import annotations

import functools
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aslib.contracts import CountOrZero, contract

__all__ = ["ExerciseError", "GRADING_VARIABLE", "answer_tensor", "exercise", "expect"]


GRADING_VARIABLE = "ASLIB_GRADING"
"""Environment variable that turns on grading mode: with it set to ``1`` a check of an exercise that is not
implemented yet fails (ExerciseError) instead of printing "not implemented yet", so an autograder cannot pass a
stub."""


class ExerciseError(AssertionError):
    """A learner's function gives a wrong answer; the message says what is wrong and how to fix it."""


def _contract(check: Callable) -> str:
    """The first sentence of a check's docstring: how it calls the learner's function and what it expects."""
    return " ".join((check.__doc__ or "").split()).split(". ")[0].replace("``", "")


def _code_objects(kit: tuple[Any, ...]) -> dict[Any, str]:
    """The code objects of the kit's functions (of a class: every method it defines), with readable names."""
    codes = {}
    for item in kit:
        members = [m for m in vars(item).values()] if isinstance(item, type) else [item]
        for member in members:
            member = getattr(member, "fget", member)  # a property's getter
            function = inspect.unwrap(getattr(member, "__func__", member)) if callable(member) else member
            code = getattr(function, "__code__", None)
            if code is not None:
                codes[code] = f"{item.__module__}.{item.__qualname__}"
    return codes


def _calls_to(solution: Callable, kit: dict[Any, str], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """``solution(*args, **kwargs)`` and the names of the kit's functions in ``kit`` it called, directly or not
    (recorded by a profile hook for the duration of the call; the previous hook is restored)."""
    called: list[str] = []

    def hook(frame, event, _arg):
        if event == "call" and frame.f_code in kit and kit[frame.f_code] not in called:
            called.append(kit[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        answer = solution(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return answer, called


def _guarded(solution: Callable, check: Callable, kit: dict[Any, str]) -> Callable:
    """``solution`` called as the check calls it, answering in words when the call does not fit the learner's
    signature, the function returns None (a forgotten ``return``) or it calls the kit's own answer to the
    exercise (a function in ``kit``)."""
    name = getattr(solution, "__name__", "your function")

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            inspect.signature(solution).bind(*args, **kwargs)
        except TypeError as error:
            raise ExerciseError(f"{check.__name__} calls {name} with {len(args)} argument(s) but {name} "
                                f"takes {inspect.signature(solution)} ({error}); the check expects: "
                                f"{_contract(check)}") from None
        except ValueError:  # no signature to read (a builtin): let the call itself decide
            pass
        answer, called = _calls_to(solution, kit, *args, **kwargs)
        if called:
            raise ExerciseError(f"{name} calls {', '.join(called)}: that is the kit's own answer to this exercise; "
                                "write it yourself with torch (the exercise text says which aslib helpers you may use)")
        if answer is None:
            raise ExerciseError(f"{name} returned None: end it with `return ...`; the check expects: "
                                f"{_contract(check)}")
        return answer

    return call


def exercise(*kit: Any) -> Callable[[Callable[[Callable], None]], Callable[[Callable], bool | None]]:
    """Make ``check(solution)`` an exercise check; the learner's function may not call anything in ``kit`` (the
    kit's functions and classes that do the exercise's job), so the check cannot be passed by calling them."""
    codes = _code_objects(kit)

    def exercise(check: Callable[[Callable], None]) -> Callable[[Callable], bool | None]:
        return _run(check, codes)
    return exercise


def _run(check: Callable[[Callable], None], kit: dict[Any, str]) -> Callable[[Callable], bool | None]:
    """The check as the learner calls it, ``run(solution)``, with the check's own annotations (``solution:
    Callable``, what :func:`aslib.contracts.contract` declares on it) and its verdict's return type."""
    @functools.wraps(check)
    def run(solution: Callable) -> bool | None:
        try:
            check(_guarded(solution, check, kit))
        except NotImplementedError:
            if os.environ.get(GRADING_VARIABLE) == "1":
                raise ExerciseError(f"{check.__name__}: not implemented (grading mode, {GRADING_VARIABLE}=1)") from None
            print(f"{check.__name__}: not implemented yet (write your code where it raises NotImplementedError)")
            return None
        except (TypeError, ValueError, IndexError, RuntimeError) as error:
            frames = traceback.extract_tb(error.__traceback__)
            if frames and Path(frames[-1].filename).parent == Path(__file__).parent:  # a check used the answer
                raise ExerciseError(f"{check.__name__}: your function's answer does not have the expected form "
                                    f"({error}); the check expects: {_contract(check)}") from None
            raise  # raised inside the learner's code: its traceback points there
        print(f"{check.__name__}: all checks passed")
        return True
    run.__annotations__ = {**check.__annotations__, "return": "bool | None"}  # wraps shared the check's dict
    return run


@contract
def expect(condition: bool, message: str) -> None:
    """Raise :class:`ExerciseError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(message)


@contract
def answer_tensor(value: Any, what: str, shape: tuple[CountOrZero, ...]) -> torch.Tensor:
    """The learner's answer ``value`` (called ``what`` in messages), checked to be a finite tensor of ``shape``;
    an :class:`ExerciseError` that says what is wrong otherwise."""
    expect(isinstance(value, torch.Tensor), f"{what} should be a torch.Tensor, got {type(value).__name__}")
    expect(tuple(value.shape) == shape, f"{what} should have shape {shape}, got {tuple(value.shape)}")
    expect(bool(torch.isfinite(value).all()), f"{what} contains NaN or infinite values")
    return value
