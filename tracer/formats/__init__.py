"""Record output formats: native audit text and JSON lines."""
