"""Component and service manifests shipped with flowmixer (JSON files, loaded by the registry)."""
