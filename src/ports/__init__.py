"""Abstract interfaces the application needs from the world, one file per role."""
