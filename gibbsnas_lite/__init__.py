"""gibbsnas-lite: GibbsNAS (Xue et al., AAAI 2021) as a small, readable, notebook-first kit.

Two layers (docs/architecture.md). The core needs only torch and numpy (``pip install .``;
tqdm draws progress bars when present) and imports nothing from ``course/``:
    samplers      BFGS Gaussian sampler for alpha (Eq. 16), diagonal quasi-Newton Gaussian sampler for omega (Eq. 15)
    spaces        NAS-Bench-201 and DARTS search spaces (ops, cells, supernets, derived networks)
    nasbench      the NAS-Bench-201 lookup table shipped in data/
    data          datasets and the device loader
    search        Algorithm 1 and the baselines (DARTS-V1/V2, GDAS, RSPS) on one resumable loop;
                  the strategy registry
    train         the DARTS evaluation protocol: train a genotype from scratch
    runs          run folders: atomic writes, checkpoint files, RNG capture, progress, profiles; read_run
    stats         describe(): the one summary of a list of numbers (count, mean, sample std, min, max)
    table_search  random search, REA, REINFORCE, BOHB-style on the benchmark table
    sweep         many searches on Ray: trials, runner, results, row statistics (the [sweep] extra)

The course layer (``course/``, the [course] extra: what the notebooks teach with, built on the core):
    toys          target posteriors, exact Gibbs, the sampler driver, diagnostics
    bilevel_toy   a one-edge NAS toy with a known answer (notebook 03)
    arch_posterior  draws from the final alpha Gaussian -> cells -> accuracies (notebook 07)
    report        Table-3 rows of searched cells beside the paper's (notebook 04)
    ablation      sample/mean x 1st/2nd order, temperature sweep (notebook 05)
    seed_study    many searches as distributions: rows from run folders, the shipped study
    deep_study    the deep stage's study read against its question (DARTS collapse, data-driven GibbsNAS)
    exercises     the check_... helpers of the notebooks' exercises, show_solution
    solutions     the exercises' reference solutions and model answers (tested; shown on request)
    notebooks     headless batch runs of the course notebooks (papermill)
    widgets       the live alpha dashboard's public API; dashboard: its parts
    dashboard     record (events, replay), runner (background run), view (figure, live widget), headless
    plots         every plotly figure, one module per subject

At the top, above both:
    cli           the `gibbsnas-lite` command line (imports course modules only when a command needs them)
"""

__version__ = "0.1.0"
