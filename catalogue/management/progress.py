"""The progress bar the management commands draw on standard error."""

from tqdm import tqdm


class ProgressBar(tqdm):
    # No monitor thread: the commands update their bars often anyway, and a
    # thread left running for the rest of the process would keep imports from
    # reading in a second process (catalogue/read_ahead.py).
    monitor_interval = 0
