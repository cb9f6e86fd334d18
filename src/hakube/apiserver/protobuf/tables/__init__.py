"""The field-number tables, one module per area (the format is described in `..table`)."""
