"""recon: brings an automated trading system back safely after a crash."""
