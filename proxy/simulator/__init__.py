"""The built-in PBX simulator: a PBX stand-in with a control API, speaking the bridge protocol."""
