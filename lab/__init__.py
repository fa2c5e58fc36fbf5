"""Real-host lab: network namespaces that run the project's outputs for real."""
