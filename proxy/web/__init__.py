"""HTTP and websocket endpoints: sign-in, the agent socket, the page, headers."""
