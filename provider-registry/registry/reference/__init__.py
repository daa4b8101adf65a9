"""Reference data the other services keep copies of: the taxonomy and the gazetteer, announced by event."""
