"""Figures (matplotlib imported lazily; functions return a Figure and accept ``ax=``)."""
