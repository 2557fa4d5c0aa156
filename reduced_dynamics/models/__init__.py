"""Reusable torch modules; many members of one module are batched by
`reduced_dynamics.batching`."""
