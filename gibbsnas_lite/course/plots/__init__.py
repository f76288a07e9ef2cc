"""Plotly figures. Submodules: `posterior` (toy posteriors, covariance ellipses), `cells` (cells, alpha heat maps)."""
