"""Authentication, origin checks and other defences of the handshake and the message path."""
