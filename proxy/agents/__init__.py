"""The application layer: what agents do, between the web and the seams."""
