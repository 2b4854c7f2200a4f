"""Built-in business modules, each shaped like a third-party plugin."""
