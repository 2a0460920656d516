"""Test helpers: small real-format files (the format zoo) and a bad-file corpus made from them."""
