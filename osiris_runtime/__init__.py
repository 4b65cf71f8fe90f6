"""Osiris runtime: registry, OML model and validator, compiler, runner and drivers."""

__version__ = "0.1.0"
