"""One module per architecture; each registers its official configurations with
:func:`uhr4k.models.registry.register_model` when imported (``registry.ARCHITECTURES`` lists them)."""
