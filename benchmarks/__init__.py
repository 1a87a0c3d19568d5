"""`make bench`: each performance target measured and printed beside its bound."""
