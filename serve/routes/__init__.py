"""Route handlers, one module per resource; each handler is a few lines over a library or service call."""
