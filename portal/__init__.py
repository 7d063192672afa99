"""Portail AMO: a youth-aid portal where the young person decides."""

__version__ = "0.1.0"
