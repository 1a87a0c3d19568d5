"""What recon tells the world beyond its log — alerts through apprise and Prometheus metrics —
each worked out from the engine's events by a listener beside the headless log."""
