"""One module per resource; each route is thin: parse, call the store, shape the answer."""
