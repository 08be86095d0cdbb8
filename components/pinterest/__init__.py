"""Pinterest API v5: the connector's client, models and components, and a local emulator.

``components.pinterest.emulator`` is a spec-faithful Pinterest API v5 and OAuth server that runs
on 127.0.0.1, for tests, demos and offline flow development.
"""
