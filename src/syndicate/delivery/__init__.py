"""Delivery backends: one module per way a message can leave, registered by name."""
