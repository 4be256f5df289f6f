"""Events out: other systems subscribe to our events and get them signed, retried, recorded."""
