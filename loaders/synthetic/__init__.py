"""Synthetic lending populations in the input contract."""
