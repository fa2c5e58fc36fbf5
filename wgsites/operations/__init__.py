"""What touches hosts or AWS: the command line, status, the drift read over SSH, import."""
