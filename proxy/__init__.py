"""The shell of softphone-proxy: every adapter to the outside world, and the app that joins them."""
