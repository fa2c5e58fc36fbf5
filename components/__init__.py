"""The Pulumi layer: the only code that imports pulumi. It passes the core's text through unchanged."""
