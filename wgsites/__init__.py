"""wgsites' pure core: model, address plan and rendering. It never imports pulumi."""
