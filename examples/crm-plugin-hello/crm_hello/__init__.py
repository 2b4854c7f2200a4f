"""An example CRM plugin: greetings to contacts (see README.md)."""
