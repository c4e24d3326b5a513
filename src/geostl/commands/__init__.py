"""geostl.commands."""
