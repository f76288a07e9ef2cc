"""Plotly figures. Submodules: `toy_posterior` (toy Gaussian posteriors, covariance ellipses), `cells` (cells, alpha heat maps)."""
