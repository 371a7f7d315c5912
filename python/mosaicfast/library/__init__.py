"""The tile library: the on-disk tile store, its indexer and its maintenance."""
