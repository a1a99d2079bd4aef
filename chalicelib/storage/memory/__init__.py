"""In-memory twins of the domain ports, for unit tests (held to the contract tests of their adapters)."""
