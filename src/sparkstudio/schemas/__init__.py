"""Request and response models: one Create / Update / Public model per entity."""
