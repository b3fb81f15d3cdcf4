"""Graph risk features: shared-identifier rings, exposure to known-bad users, multi-platform borrowing."""
