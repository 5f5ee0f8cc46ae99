"""wfga's pure core: configuration, port plan, address strings, offline plan and command line."""
