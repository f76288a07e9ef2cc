"""gibbsnas-lite: GibbsNAS (Xue et al., AAAI 2021) as a small, readable, notebook-first kit.

Modules (one idea each):
    samplers   BFGS Gaussian sampler for alpha (Eq. 16), diagonal L-BFGS Gaussian sampler for omega (Eq. 15)
    toys       quadratic / non-Gaussian posteriors, exact Gibbs, Laplace approximation
    spaces     NAS-Bench-201 and DARTS search spaces (ops, cells, supernets, derived networks)
    nasbench   the NAS-Bench-201 lookup table shipped in data/
    plots      plotly figures (cells, alpha heat maps, covariance ellipses)
    notebooks  headless batch runs of the course notebooks (papermill)
    cli        the `gibbsnas-lite` command line
"""

__version__ = "0.1.0"
