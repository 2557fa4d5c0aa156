"""Reusable torch modules and the batching of many members of one module."""
