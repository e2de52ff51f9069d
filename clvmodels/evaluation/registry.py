"""A registry of the methods the comparison harness knows by name.

The harness (``clvmodels.compare(..., methods=["bgnbd", "own_rate", ...])``)
turns names into fresh method objects through this registry. The built-in
baselines (:mod:`clvmodels.evaluation.baselines`, :mod:`clvmodels.evaluation.ml`)
register themselves; model adapters and formula predictors are registered by
the harness; users add their own with :func:`register_method`.

A *factory* is any callable taking no required argument and returning a new
object implementing the method protocol (see
:mod:`clvmodels.evaluation.base`): a class, a function, or a
``functools.partial`` fixing hyperparameters. A new object is made for every
use, so state never leaks between backtest cutoffs.

Examples
--------
>>> import functools
>>> from clvmodels.evaluation import available_methods, get_method, register_method
>>> from clvmodels.evaluation.baselines import OwnRate
>>> _ = register_method(functools.partial(OwnRate), name="my_own_rate")
>>> "my_own_rate" in available_methods()
True
>>> get_method("my_own_rate")
OwnRate() [name='own_rate']
>>> from clvmodels.evaluation import unregister_method
>>> unregister_method("my_own_rate")
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from clvmodels.errors import InvalidParameterError

__all__ = ["register_method", "unregister_method", "available_methods", "get_method"]

_REGISTRY: dict[str, Callable[[], object]] = {}
_BUILTIN_MODULES = (
    "clvmodels.evaluation.baselines",
    "clvmodels.evaluation.ml",
    "clvmodels.evaluation.ziln",
    "clvmodels.evaluation.methods",  # model adapters and formula predictors
)
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            hook = getattr(importlib.import_module(module), "register_builtin_methods", None)
            if hook is not None:
                hook()


def _factory_name(factory) -> str | None:
    name = getattr(factory, "name", None)
    if isinstance(name, str):
        return name
    inner = getattr(factory, "func", None)  # functools.partial
    if inner is not None:
        return _factory_name(inner)
    return getattr(factory, "__name__", None)


def register_method(factory: Callable[[], object], name: str | None = None, *,
                    overwrite: bool = False) -> Callable[[], object]:
    """Make a method available to the harness under ``name``.

    Parameters
    ----------
    factory : callable
        Called with no argument, returns a new object with ``name``,
        ``fit(summary, transactions=None)`` and ``predict(summary, horizon)``
        (see :mod:`clvmodels.evaluation.base`). A class, a function or a
        ``functools.partial``.
    name : str, optional
        Registry key. Defaults to the factory's ``name`` attribute (a class
        attribute of a :class:`~clvmodels.evaluation.base.Method` subclass),
        else its ``__name__``.
    overwrite : bool, default False
        Replace an existing entry of the same name instead of raising.

    Returns
    -------
    The factory, so the function works as a class decorator.

    Raises
    ------
    InvalidParameterError
        When ``factory`` is not callable, the name is not a non-empty string,
        or the name is taken and ``overwrite`` is false.
    """
    _load_builtins()
    if not callable(factory):
        raise InvalidParameterError(
            f"register_method: factory must be callable (a class or a function returning a "
            f"method), got {factory!r}."
        )
    key = name if name is not None else _factory_name(factory)
    if not isinstance(key, str) or not key.strip():
        raise InvalidParameterError(
            f"register_method: cannot tell the name of {factory!r}; pass name='...'."
        )
    if key in _REGISTRY and not overwrite and _REGISTRY[key] is not factory:
        raise InvalidParameterError(
            f"register_method: a method named {key!r} is already registered "
            f"({_REGISTRY[key]!r}); choose another name or pass overwrite=True."
        )
    _REGISTRY[key] = factory
    return factory


def unregister_method(name: str) -> None:
    """Remove ``name`` from the registry (a missing name raises, listing the known ones)."""
    _load_builtins()
    if name not in _REGISTRY:
        raise InvalidParameterError(
            f"unregister_method: no method named {name!r}; registered: {available_methods()}."
        )
    del _REGISTRY[name]


def available_methods() -> list[str]:
    """Names of the registered methods, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_method(name: str, **kwargs) -> object:
    """A new method object for ``name`` (``kwargs`` go to the factory).

    An unknown name raises :class:`~clvmodels.errors.InvalidParameterError`
    listing the registered names.
    """
    _load_builtins()
    try:
        factory = _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"unknown method {name!r}; registered: {available_methods()} "
            "(add your own with clvmodels.evaluation.register_method)."
        ) from None
    method = factory(**kwargs)
    for attr in ("fit", "predict"):
        if not callable(getattr(method, attr, None)):
            raise InvalidParameterError(
                f"the factory registered as {name!r} returned {method!r}, which has no {attr}() "
                "method (see clvmodels.evaluation.base for the protocol)."
            )
    return method
