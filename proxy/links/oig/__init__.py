"""Mitel MiVoice Business through OIG (SOAP 1.1): the link, sessions, events, HA."""
