"""Safe checkpoint reading and writing shared by every model family."""
