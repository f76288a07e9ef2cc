"""gibbsnas-lite: GibbsNAS (Xue et al., AAAI 2021) as a small, readable, notebook-first kit.

The core (one idea a module; no plotly, nothing from course/):
    samplers      BFGS Gaussian sampler for alpha (Eq. 16), diagonal L-BFGS Gaussian sampler for omega (Eq. 15)
    spaces        NAS-Bench-201 and DARTS search spaces (ops, cells, supernets, derived networks)
    nasbench      the NAS-Bench-201 lookup table shipped in data/
    data          datasets and the device loader
    search        Algorithm 1 and the baselines (DARTS-V1/V2, GDAS, RSPS) on one resumable loop
    train         the DARTS evaluation protocol: train a genotype from scratch
    table_search  random search, REA, REINFORCE, BOHB-style on the benchmark table
    sweep         many searches on Ray: trials, runner, results, row statistics
    cli           the `gibbsnas-lite` command line

The course layer (``course/``, what the notebooks teach with; built on the core):
    toys, bilevel_toy, arch_posterior, report, ablation, seed_study, exercises,
    notebooks (headless batch runs), widgets + dashboard (the live alpha dashboard),
    plots (every plotly figure, one module per subject)
"""

__version__ = "0.1.0"
