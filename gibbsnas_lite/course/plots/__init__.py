"""Every plotly figure of the kit, one module per subject (the core draws none).

* :mod:`.toy_posterior`  - toy Gaussian posteriors, covariance ellipses, traces (notebooks 01-02);
* :mod:`.bilevel`        - the bilevel toy (notebook 03);
* :mod:`.cells`          - NB201 / DARTS cells, alpha heat maps;
* :mod:`.report`         - Table 3 and per-epoch accuracy of a NB201 search (notebook 04);
* :mod:`.seed_study`     - the seed study's strip and per-epoch figures (notebooks 04-05);
* :mod:`.sweep`          - the same figures for a sweep's rows (notebook 08);
* :mod:`.ablation`       - the sample-mean-order ablation (notebook 05);
* :mod:`.training`       - a training run of the DARTS evaluation protocol (notebook 06);
* :mod:`.arch_posterior` - the architecture posterior (notebook 07);
* :mod:`.table_search`   - anytime curves of the table searches (notebook 07).

The live dashboard's figure (a FigureWidget updated during a run) is part of :mod:`..dashboard`.
"""
