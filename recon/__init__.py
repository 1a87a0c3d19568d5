"""The `recon` command: above both faces, the console (Textual) and the engine it drives, so
the engine never depends on the screen."""
