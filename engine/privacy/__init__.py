"""privacy: consent withdrawn, free text kept apart, purge past retention."""
