"""The course layer: what the notebooks teach with, built on the core (samplers, spaces, search, data).

* :mod:`.toys`           - toy posteriors (Gaussians), exact Gibbs, the sampler driver, diagnostics;
* :mod:`.bilevel_toy`    - the bilevel toy problem (DARTS vs Gibbs on two operations);
* :mod:`.arch_posterior` - the architecture posterior of a GibbsNAS search (NB201);
* :mod:`.report`         - the NB201 search report (Table 3 rows, epochs, cells);
* :mod:`.ablation`       - the sample-mean-order ablation;
* :mod:`.seed_study`     - many searches per strategy as distributions;
* :mod:`.deep_study`     - the deep stage's study against its criteria (docs/deep_stage.md);
* :mod:`.exercises`      - the notebooks' exercise checks;
* :mod:`.notebooks`      - the batch runner (papermill, profiles, headlines);
* :mod:`.widgets`        - the live alpha dashboard (built from :mod:`.dashboard`);
* :mod:`.plots`          - every plotly figure of the kit, one module per subject.

The core (everything outside ``course/``) never imports from here and never imports plotly.
Import the modules themselves, e.g. ``from gibbsnas_lite.course import toys``.
"""
